"""The two ways into Zuora behind one interface: DirectEngine (REST per docs/mapping.md) and
ConnectorEngine (the "Send to Zuora" button endpoint, then verification in Zuora)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cpq_sync_gui.connector.client import ConnectorClient, ConnectorError
from cpq_sync_gui.salesforce.ids import to_18
from cpq_sync_gui.sync.events import RecordState
from cpq_sync_gui.sync.mapping import account_update_payload
from cpq_sync_gui.sync.plan import PlannedRecord
from cpq_sync_gui.sync.runner import AttemptError, CallContext, Outcome
from cpq_sync_gui.zuora.client import ZuoraAnswer, ZuoraClient, ZuoraError

__all__ = ["ConnectorEngine", "DirectEngine", "attempt_error"]


def attempt_error(error: ZuoraError) -> AttemptError:
    """A ZuoraError as the runner sees it.

    ``success: false`` answers whose reasons are locking contention, an internal error or a
    limit (categories 50, 60, 70) mean Zuora did nothing and may succeed later: they are
    retried like a 5xx. Every other refusal is final.
    """
    kind = error.kind
    if kind == "rejected" and error.transient:
        kind = "server"
    return AttemptError(
        kind,
        error.message,
        status=error.status,
        request_id=error.request_id,
        retry_after=error.retry_after,
        concurrency_remaining=error.limits.concurrency_remaining,
        concurrency_limit=error.limits.concurrency_limit,
    )


def _account_outcome(refs: list[Any], how: str) -> Outcome | None:
    if not refs:
        return None
    refs = sorted(refs, key=lambda r: r.account_number)
    first = refs[0]
    detail = f"{how} account {first.account_number}."
    if len(refs) > 1:
        others = ", ".join(r.account_number for r in refs[1:])
        detail += f" Zuora also holds {others} with the same crmId: clean them up in Zuora."
    return Outcome(RecordState.SYNCED, detail, first.id, first.account_number)


def _find_in_zuora(zuora: ZuoraClient, record: PlannedRecord, how: str) -> Outcome | None:
    try:
        if record.record_kind == "account":
            crm_id = record.lookup_key or record.record_id
            return _account_outcome(zuora.find_accounts_by_crm_id([crm_id]).get(crm_id, []), how)
        number = record.lookup_key
        if not number:
            return None
        order = zuora.get_order(number)
    except ZuoraError as error:
        raise attempt_error(error) from None
    if order is None:
        return None
    return Outcome(
        RecordState.SYNCED,
        f"{how} order {number}.",
        order.get("id") or order.get("orderId"),
        str(order.get("orderNumber") or number),
    )


class DirectEngine:
    """Creates accounts and orders through Zuora's REST API with the plan's payloads."""

    name = "direct"

    def __init__(self, zuora: ZuoraClient) -> None:
        self.zuora = zuora

    def prepare(self, record: PlannedRecord, done: Mapping[str, Outcome]) -> Any:
        payload = copy.deepcopy(record.payload) if record.payload is not None else {}
        for field_name, dependency in record.bindings.items():
            outcome = done.get(dependency)
            value = None
            if outcome is not None:
                value = outcome.zuora_id if field_name == "parentId" else outcome.zuora_number
            if not value:
                raise AttemptError(
                    "rejected",
                    f"Not sent: {field_name} comes from {dependency}, whose Zuora "
                    f"{'id' if field_name == 'parentId' else 'number'} is not known.",
                )
            payload[field_name] = value
        if record.action == "update":
            return account_update_payload(payload)
        return payload

    def find_existing(self, record: PlannedRecord) -> Outcome | None:
        if record.action == "update":
            return None  # an update may be sent again: it sets the same values
        return _find_in_zuora(self.zuora, record, "Found in Zuora:")

    def send(self, record: PlannedRecord, payload: Any, call: CallContext) -> Outcome:
        try:
            if record.record_kind == "account" and record.action == "update":
                if not record.zuora_id:
                    raise AttemptError("rejected", "Not sent: the Zuora account id is unknown.")
                answer = self.zuora.request(
                    "PUT",
                    f"/v1/accounts/{record.zuora_id}",
                    json_body=payload,
                    track_id=call.track_id,
                    read_only=False,
                )
                return self._outcome(
                    answer,
                    f"Updated account {record.zuora_number}.",
                    record.zuora_id,
                    record.zuora_number,
                )
            if record.record_kind == "account":
                answer = self.zuora.create_account(
                    payload, idempotency_key=call.idempotency_key, track_id=call.track_id
                )
                number = answer.get("accountNumber")
                return self._outcome(
                    answer, f"Created account {number}.", answer.get("accountId"), number
                )
            answer = self.zuora.create_order(
                payload, idempotency_key=call.idempotency_key, track_id=call.track_id
            )
        except ZuoraError as error:
            raise attempt_error(error) from None
        number = answer.get("orderNumber") or payload.get("orderNumber")
        subscriptions = answer.get("subscriptionNumbers") or [
            s.get("subscriptionNumber") for s in answer.get("subscriptions") or []
        ]
        detail = f"Created order {number}"
        if subscriptions:
            detail += f" with subscription {', '.join(str(s) for s in subscriptions if s)}"
        return self._outcome(answer, detail + ".", None, number)

    @staticmethod
    def _outcome(
        answer: ZuoraAnswer, detail: str, zuora_id: str | None, number: str | None
    ) -> Outcome:
        return Outcome(
            RecordState.SYNCED,
            detail,
            zuora_id,
            number,
            answer.request_id,
            answer.limits.concurrency_remaining,
            answer.limits.concurrency_limit,
        )


_CONNECTOR_KINDS = {
    "not_routed": "rejected",
    "rejected": "rejected",
    "rate_limited": "rate_limited",
    "server": "server",
    "network_before_send": "network_before_send",
    "ambiguous": "ambiguous",
}


class ConnectorEngine:
    """Triggers Zuora's own connector, then (with Zuora credentials) lets the runner verify.

    ``send`` returns Verifying once the endpoint accepted the trigger; the runner then calls
    :meth:`verify` once per poll interval with every record still waiting, which looks them up
    together: one ZOQL query per 200 crmIds for accounts, one GET per order (Zuora has no batched
    order read). Outcomes: Synced (found in Zuora, with its number), Accepted (unverified: no
    Zuora credentials, or the user cancelled the wait), Failed (the endpoint refused: status and
    body text), Timed out (accepted, but not in Zuora within ``verify_timeout_s``).
    """

    name = "connector"
    ORDER_LOOKUP_THREADS = 4  # GET /v1/orders/{number} at once while verifying orders

    def __init__(
        self,
        connector: ConnectorClient,
        zuora: ZuoraClient | None = None,
        *,
        verify_timeout_s: float = 120.0,
        poll_interval_s: float = 0.5,
        max_poll_interval_s: float = 10.0,
    ) -> None:
        self.connector = connector
        self.zuora = zuora
        self.verify_timeout_s = verify_timeout_s
        self.poll_interval_s = poll_interval_s
        self.max_poll_interval_s = max_poll_interval_s

    def prepare(self, record: PlannedRecord, done: Mapping[str, Outcome]) -> Any:
        # The connector reads Salesforce itself; what is "sent" is the trigger.
        return {"connector": record.record_kind, "id": record.record_id}

    def find_existing(self, record: PlannedRecord) -> Outcome | None:
        if self.zuora is None:
            return None
        return _find_in_zuora(self.zuora, record, "Found in Zuora:")

    def send(self, record: PlannedRecord, payload: Any, call: CallContext) -> Outcome:
        try:
            if record.record_kind == "account":
                answer = self.connector.trigger_account(record.record_id)
            else:
                answer = self.connector.trigger_order(record.record_id)
        except ConnectorError as error:
            message = error.message
            if error.kind in ("not_routed", "rejected") and error.status is not None:
                message = f"{message} (HTTP {error.status})" if "HTTP" not in message else message
            raise AttemptError(
                _CONNECTOR_KINDS.get(error.kind, "rejected"), message, status=error.status
            ) from None
        said = " ".join(answer.text.split())[:300]
        accepted = f"The connector accepted it (HTTP {answer.status})" + (
            f" and said: {said}" if said else "."
        )
        call.log("INFO", f"{record.label}: {accepted}")
        if self.zuora is None:
            return Outcome(RecordState.ACCEPTED, f"{accepted} {_UNVERIFIED}")
        return Outcome(RecordState.VERIFYING, accepted)

    # -- verification (the runner's Verifier hook) ---------------------------------------

    def verify(self, records: Sequence[PlannedRecord]) -> dict[str, Outcome]:
        if self.zuora is None:  # resumed with a profile that no longer has Zuora credentials
            return {
                r.record_id: Outcome(
                    RecordState.ACCEPTED, f"The connector accepted it earlier. {_UNVERIFIED}"
                )
                for r in records
            }
        try:
            found = self._accounts_in_zuora(self.zuora, records)
            found.update(self._orders_in_zuora(self.zuora, records))
        except ZuoraError as error:
            raise attempt_error(error) from None
        return found

    @staticmethod
    def _accounts_in_zuora(
        zuora: ZuoraClient, records: Sequence[PlannedRecord]
    ) -> dict[str, Outcome]:
        found: dict[str, Outcome] = {}
        accounts = [r for r in records if r.record_kind == "account"]
        # The connector writes the crmId as Salesforce's API gives it (18 characters): new
        # accounts are looked up by that alone, 200 per query. An account that was already in
        # Zuora (an update) may hold a hand-typed 15-character id: those are asked both ways.
        for include_15 in (False, True):
            batch = [r for r in accounts if (r.action != "create") == include_15]
            if not batch:
                continue
            keys = {r.record_id: to_18(r.lookup_key or r.record_id) for r in batch}
            refs = zuora.find_accounts_by_crm_id(keys.values(), include_15=include_15)
            for record in batch:
                how = "Synced by the connector: Zuora"
                outcome = _account_outcome(refs.get(keys[record.record_id], []), how)
                if outcome is not None:
                    found[record.record_id] = outcome
        return found

    def _orders_in_zuora(
        self, zuora: ZuoraClient, records: Sequence[PlannedRecord]
    ) -> dict[str, Outcome]:
        orders = [r for r in records if r.record_kind == "order" and r.lookup_key]
        if not orders:
            return {}
        threads = max(1, min(self.ORDER_LOOKUP_THREADS, len(orders)))
        with ThreadPoolExecutor(threads, thread_name_prefix="verify-order") as pool:
            answers = list(pool.map(lambda r: zuora.get_order(r.lookup_key), orders))
        found: dict[str, Outcome] = {}
        for record, order in zip(orders, answers, strict=True):
            if order is not None:
                number = str(order.get("orderNumber") or record.lookup_key)
                found[record.record_id] = Outcome(
                    RecordState.SYNCED,
                    f"Synced by the connector: Zuora order {number}.",
                    order.get("id") or order.get("orderId"),
                    number,
                )
        return found

    def verification_timed_out(self, record: PlannedRecord, accepted: str, problem: str) -> Outcome:
        what = "account" if record.record_kind == "account" else "order"
        extra = f" (last check failed: {problem})" if problem else ""
        return Outcome(
            RecordState.TIMED_OUT,
            f"{accepted} But the {what} did not appear in Zuora within "
            f"{self.verify_timeout_s:g} seconds{extra}. Look in Zuora under System "
            "Health → Integration Hub for the connector's error.",
        )

    def verification_cancelled(self, record: PlannedRecord, accepted: str) -> Outcome:
        return Outcome(
            RecordState.ACCEPTED,
            f"{accepted} Verification stopped because the run was cancelled.",
        )


_UNVERIFIED = (
    "Not verified: no Zuora credentials in this profile; check Zuora "
    "(System Health → Integration Hub)."
)
