"""Zuora REST client: OAuth token, account/order look-ups and creates, catalog matches; failures sorted into kinds."""

from __future__ import annotations

import dataclasses
import email.utils
import json
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote as url_quote

import requests
import urllib3.exceptions

from cpq_sync_gui.redact import Redactor, default_redactor
from cpq_sync_gui.salesforce.ids import is_valid_id, to_18
from cpq_sync_gui.zuora import zoql

if TYPE_CHECKING:
    from cpq_sync_gui.secrets import SecretLookup
    from cpq_sync_gui.settings import Profile

__all__ = [
    "CatalogMatch",
    "ErrorKind",
    "ZuoraAccountRef",
    "ZuoraAnswer",
    "ZuoraCharge",
    "ZuoraClient",
    "ZuoraError",
    "ZuoraLimits",
    "ZuoraProduct",
    "ZuoraRatePlan",
    "ZuoraReason",
    "check_track_id",
    "classify_network_error",
    "or_queries",
]

ErrorKind = Literal[
    "rate_limited",
    "server",
    "network_before_send",
    "ambiguous",
    "rejected",
    "auth",
    "conflict",
    "idempotency_mismatch",
]

TOKEN_REFRESH_MARGIN_S = 60.0  # get a new token this long before the old one expires
MAX_IDEMPOTENCY_KEY = 255
MAX_ZOQL_LENGTH = 10_000  # Zuora refuses a ZOQL query of more characters; stay below it
_TRACK_ID = re.compile(r"^[\x20-\x7e]{1,64}$")
_TRACK_ID_FORBIDDEN = frozenset(":;\"'")
_NOT_FOUND_CATEGORY = 40


def check_track_id(track_id: str) -> str:
    """A valid ``Zuora-Track-Id``: 1–64 printable US-ASCII characters without ``: ; " '``."""
    if (
        not isinstance(track_id, str)
        or not _TRACK_ID.match(track_id)
        or _TRACK_ID_FORBIDDEN & set(track_id)
    ):
        raise ValueError(
            "a Zuora-Track-Id is 1 to 64 printable US-ASCII characters without : ; \" or ' "
            f"(got {track_id!r:.80})"
        )
    return track_id


def _check_idempotency_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise ValueError(f"an idempotency key is 1 to {MAX_IDEMPOTENCY_KEY} characters")
    if not key.isascii() or not key.isprintable():
        raise ValueError("an idempotency key is printable ASCII")
    return key


# --- answers and errors --------------------------------------------------------------------


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ZuoraLimits:
    """What Zuora said about its limits in one answer (None when a header was absent)."""

    concurrency_type: str | None = None
    concurrency_limit: int | None = None
    concurrency_remaining: int | None = None
    rate_limit: str | None = None  # e.g. "50000, 50000;w=60"
    rate_remaining: int | None = None
    rate_reset_s: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> ZuoraLimits:
        return cls(
            concurrency_type=headers.get("Concurrency-Limit-Type"),
            concurrency_limit=_int(headers.get("Concurrency-Limit-Limit")),
            concurrency_remaining=_int(headers.get("Concurrency-Limit-Remaining")),
            rate_limit=headers.get("RateLimit-Limit"),
            rate_remaining=_int(headers.get("RateLimit-Remaining")),
            rate_reset_s=_int(headers.get("RateLimit-Reset")),
        )


@dataclass(frozen=True)
class ZuoraReason:
    """One ``reasons[]`` entry: an 8-digit code (resource + 2-digit category) and its text."""

    code: int | None
    message: str

    @property
    def category(self) -> int | None:
        """Last two digits: 10 permission … 40 not found, 50 locking, 60 internal, 70 limit, 90 malformed."""
        return self.code % 100 if self.code is not None else None


@dataclass(frozen=True)
class ZuoraAnswer:
    """A successful Zuora answer with the headers worth keeping."""

    status: int
    body: Any
    request_id: str | None = None
    track_id: str | None = None
    limits: ZuoraLimits = field(default_factory=ZuoraLimits)
    job_id: str | None = None  # asynchronous orders

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default) if isinstance(self.body, dict) else default


class ZuoraError(Exception):
    """Every Zuora failure, sorted into one ``kind``; ``message`` is plain words without secrets.

    Kinds: ``rate_limited`` (429), ``server`` (5xx), ``network_before_send`` (nothing reached
    Zuora), ``ambiguous`` (sent, but no complete answer: Zuora may have applied it),
    ``rejected`` (success:false or a 4xx refusal, ``reasons`` hold Zuora's codes), ``auth``,
    ``conflict`` (409: same idempotency key still in flight), ``idempotency_mismatch`` (422).
    The client never retries a create; the caller decides with :attr:`kind`.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        reasons: Iterable[ZuoraReason] = (),
        request_id: str | None = None,
        retry_after: float | None = None,
        track_id: str | None = None,
        limits: ZuoraLimits | None = None,
        job_id: str | None = None,
        not_found: bool = False,
    ) -> None:
        self.kind = kind
        self.message = message
        self.status = status
        self.reasons = tuple(reasons)
        self.request_id = request_id
        self.retry_after = retry_after
        self.track_id = track_id
        self.limits = limits or ZuoraLimits()
        self.job_id = job_id
        self._not_found = not_found
        super().__init__(message)

    @property
    def may_have_been_applied(self) -> bool:
        """True when Zuora may have done it although no answer said so: check before re-sending."""
        return self.kind == "ambiguous"

    @property
    def is_not_found(self) -> bool:
        """Zuora said the thing does not exist (reason category 40, or a JSON 404 refusal).

        A bare 404 without Zuora's success/reasons shape (a wrong address) is not "not found".
        """
        return self._not_found or any(r.category == _NOT_FOUND_CATEGORY for r in self.reasons)

    @property
    def transient(self) -> bool:
        """Likely to work later unchanged (busy, internal error, locking contention, network)."""
        if self.kind in ("rate_limited", "server", "network_before_send", "conflict"):
            return True
        return self.kind == "rejected" and any(r.category in (50, 60, 70) for r in self.reasons)

    def __repr__(self) -> str:
        return f"ZuoraError({self.kind!r}, {self.message!r}, status={self.status})"


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    queue: list[BaseException] = [exc]
    while queue:
        current = queue.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        for linked in (
            getattr(current, "reason", None),
            current.__cause__,
            current.__context__,
            *current.args,
        ):
            if isinstance(linked, BaseException):
                queue.append(linked)
    return seen


_HANDSHAKE_WORDS = (
    "certificate verify failed",
    "certificate_verify_failed",
    "wrong_version_number",
    "wrong version number",
    "handshake",
    "hostname mismatch",
    "unknown ca",
    "tlsv1 alert",
    "unsupported protocol",
)


def classify_network_error(exc: BaseException) -> Literal["network_before_send", "ambiguous"]:
    """``network_before_send`` only when the request surely never reached the server.

    Refused or failed connections, DNS failures, connect timeouts, proxy refusals and failed
    TLS handshakes happen before a byte of the request is sent. Everything else (reset,
    read timeout, cut-off answer) is ``ambiguous``: the server may have acted on it.
    """
    chain = _causes(exc)
    before_send = (
        requests.exceptions.ConnectTimeout,
        requests.exceptions.ProxyError,
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
        requests.exceptions.InvalidHeader,
        urllib3.exceptions.NewConnectionError,  # refused, unreachable, connect timeout
        urllib3.exceptions.NameResolutionError,
        urllib3.exceptions.ConnectTimeoutError,
        urllib3.exceptions.ProxyError,
        urllib3.exceptions.LocationParseError,
        ConnectionRefusedError,
        ssl.SSLCertVerificationError,
    )
    if any(isinstance(item, before_send) for item in chain):
        return "network_before_send"
    if any(isinstance(item, (ssl.SSLError, requests.exceptions.SSLError)) for item in chain):
        text = " ".join(str(item) for item in chain).lower()
        if any(word in text for word in _HANDSHAKE_WORDS):
            return "network_before_send"
    return "ambiguous"


def _reasons(body: Any) -> list[ZuoraReason]:
    """Zuora's failure details in any of its shapes (reasons[], Errors[], FaultCode, message)."""
    if not isinstance(body, dict):
        return []
    found: list[ZuoraReason] = []
    for entry in body.get("reasons") or []:
        if isinstance(entry, dict):
            code = entry.get("code")
            found.append(
                ZuoraReason(
                    int(code) if isinstance(code, int) or str(code).isdigit() else None,
                    str(entry.get("message") or ""),
                )
            )
    for entry in body.get("Errors") or body.get("errors") or []:
        if isinstance(entry, dict):
            found.append(ZuoraReason(None, f"{entry.get('Code', '')}: {entry.get('Message', '')}"))
    if not found and body.get("FaultCode"):
        found.append(ZuoraReason(None, f"{body['FaultCode']}: {body.get('FaultMessage', '')}"))
    if not found:
        text = body.get("message") or body.get("error_description") or body.get("Message")
        if text:
            found.append(ZuoraReason(None, str(text)))
    if not found and isinstance(body.get("errors"), str) and body["errors"]:
        found.append(ZuoraReason(None, body["errors"]))
    return found


def _reason_text(reasons: Iterable[ZuoraReason]) -> str:
    parts = [f"[{r.code}] {r.message}" if r.code is not None else r.message for r in reasons]
    return "; ".join(p for p in parts if p) or "no reason given"


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value:
        if value.strip().isdigit():
            return float(value.strip())
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return max(0.0, parsed.timestamp() - time.time())
    remaining = _int(headers.get("RateLimit-Remaining"))
    reset = _int(headers.get("RateLimit-Reset"))
    if remaining == 0 and reset is not None:
        return float(reset)
    return None


# --- what the look-ups return --------------------------------------------------------------


@dataclass(frozen=True)
class ZuoraAccountRef:
    id: str
    account_number: str
    crm_id: str  # as stored in Zuora (15 or 18 characters)


@dataclass(frozen=True)
class ZuoraCharge:
    id: str
    name: str
    charge_type: str | None = None  # Recurring / OneTime / Usage
    charge_model: str | None = None
    billing_period: str | None = None
    prices: Mapping[str, float] = field(default_factory=dict)  # currency -> list price


@dataclass(frozen=True)
class ZuoraRatePlan:
    id: str
    name: str
    number: str | None = None
    status: str | None = None
    external_ids: tuple[str, ...] = ()  # externallyManagedPlanIds (Salesforce Product2 ids)
    product_id: str | None = None
    charges: tuple[ZuoraCharge, ...] = ()
    product_sku: str | None = None  # known when found through the product (by SKU)
    product_name: str | None = None


@dataclass(frozen=True)
class ZuoraProduct:
    id: str
    sku: str
    name: str
    number: str | None = None
    rate_plans: tuple[ZuoraRatePlan, ...] = ()


@dataclass(frozen=True)
class CatalogMatch:
    """Catalog rate plans for Salesforce products: by Product2 id first, else by SKU."""

    by_product2_id: Mapping[str, tuple[ZuoraRatePlan, ...]]
    by_sku: Mapping[str, ZuoraProduct]
    missing_product2_ids: frozenset[str] = frozenset()
    missing_skus: frozenset[str] = frozenset()

    def __iter__(self) -> Iterator[ZuoraRatePlan]:
        """Every rate plan found, once (those found through a SKU first: they know their product)."""
        seen: set[str] = set()
        for plans in (
            *(product.rate_plans for product in self.by_sku.values()),
            *self.by_product2_id.values(),
        ):
            for plan in plans:
                if plan.id not in seen:
                    seen.add(plan.id)
                    yield plan

    def rate_plans_for(self, product2_id: str | None, sku: str | None) -> tuple[ZuoraRatePlan, ...]:
        """The rate plans an order product maps to: its Product2 id's, else its SKU product's."""
        if product2_id:
            key = to_18(product2_id) if is_valid_id(product2_id) else product2_id
            plans = self.by_product2_id.get(key)
            if plans:
                return plans
        if sku and sku in self.by_sku:
            return self.by_sku[sku].rate_plans
        return ()


def or_queries(head: str, conditions: Iterable[str]) -> Iterator[str]:
    """``head`` + conditions joined by ``or``, as few queries as Zuora's limits allow.

    Each query has at most ``zoql.MAX_CONDITIONS`` conditions and fewer than
    ``MAX_ZOQL_LENGTH`` characters (200 conditions on 32-character Zuora ids are ~11,600).
    The conditions must already be safe ZOQL (values quoted by ``zoql.quote``).
    """
    chunk: list[str] = []
    length = len(head)
    for condition in conditions:
        added = len(condition) + (len(" or ") if chunk else 0)
        if chunk and (len(chunk) >= zoql.MAX_CONDITIONS or length + added >= MAX_ZOQL_LENGTH):
            yield head + " or ".join(chunk)
            chunk, length, added = [], len(head), len(condition)
        chunk.append(condition)
        length += added
    if chunk:
        yield head + " or ".join(chunk)


def _charge(raw: Mapping[str, Any]) -> ZuoraCharge:
    prices: dict[str, float] = {}
    for price in raw.get("pricing") or []:
        if isinstance(price, dict) and price.get("currency") and price.get("price") is not None:
            prices[str(price["currency"])] = float(price["price"])
    return ZuoraCharge(
        id=str(raw.get("id") or raw.get("Id")),
        name=str(raw.get("name") or raw.get("Name") or ""),
        charge_type=raw.get("type") or raw.get("ChargeType"),
        charge_model=raw.get("model") or raw.get("ChargeModel"),
        billing_period=raw.get("billingPeriod") or raw.get("BillingPeriod"),
        prices=prices,
    )


def _rate_plan(
    raw: Mapping[str, Any],
    product_id: str | None = None,
    product_sku: str | None = None,
    product_name: str | None = None,
) -> ZuoraRatePlan:
    external = raw.get("externallyManagedPlanIds") or []
    return ZuoraRatePlan(
        id=str(raw.get("id")),
        name=str(raw.get("name") or ""),
        number=raw.get("productRatePlanNumber"),
        status=raw.get("status"),
        external_ids=tuple(str(e) for e in external if e),
        product_id=raw.get("productId") or product_id,
        charges=tuple(
            _charge(c) for c in raw.get("productRatePlanCharges") or [] if isinstance(c, dict)
        ),
        product_sku=product_sku,
        product_name=product_name,
    )


def _product(raw: Mapping[str, Any]) -> ZuoraProduct:
    product_id = str(raw.get("id"))
    sku = str(raw.get("sku") or "")
    name = str(raw.get("name") or "")
    return ZuoraProduct(
        id=product_id,
        sku=sku,
        name=name,
        number=raw.get("productNumber"),
        rate_plans=tuple(
            _rate_plan(p, product_id, sku or None, name or None)
            for p in raw.get("productRatePlans") or []
            if isinstance(p, dict)
        ),
    )


# --- the client ----------------------------------------------------------------------------


class ZuoraClient:
    """One Zuora tenant over the profile's HTTP session; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        session: requests.Session,
        zuora_version: str,
        entity_id: str | None = None,
        timeouts: tuple[float, float] = (10, 60),
        redactor: Redactor | None = None,
        poll_interval_s: float = 0.5,
        max_poll_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith("https://"):
            raise ValueError("the Zuora address must start with https://")
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.session = session
        self.zuora_version = zuora_version
        self.entity_id = entity_id
        self.timeouts = timeouts
        self.redactor = redactor if redactor is not None else default_redactor
        self.redactor.register(client_secret)
        self.poll_interval_s = poll_interval_s
        self.max_poll_interval_s = max_poll_interval_s
        self._clock = clock
        self._sleep = sleep
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_expires = 0.0
        self.tokens_fetched = 0
        # Concurrency-Limit-Limit per Concurrency-Limit-Type, as Zuora last stated it
        self.stated_concurrency_limits: dict[str, int] = {}
        self._cache_lock = threading.Lock()
        self._plans_by_external_id: dict[str, tuple[ZuoraRatePlan, ...]] = {}
        self._products_by_sku: dict[str, ZuoraProduct | None] = {}
        self._plan_charges: dict[str, tuple[ZuoraCharge, ...]] = {}

    @classmethod
    def from_profile(
        cls,
        profile: Profile,
        secrets: SecretLookup,
        *,
        session: requests.Session | None = None,
        redactor: Redactor | None = None,
    ) -> ZuoraClient:
        """A client for the profile's Zuora tenant, with its secret and the profile's network."""
        from cpq_sync_gui.net import make_session
        from cpq_sync_gui.secrets import ZUORA_CLIENT_SECRET

        settings = profile.zuora
        secret = secrets.get(ZUORA_CLIENT_SECRET)
        if not settings.client_id or not secret:
            missing = "client ID" if not settings.client_id else "client secret"
            raise ZuoraError("auth", f"The Zuora {missing} is not set: enter it in the profile.")
        return cls(
            settings.rest_base_url(),
            settings.client_id,
            secret,
            session=session if session is not None else make_session(profile.network, secrets),
            zuora_version=settings.zuora_version,
            entity_id=settings.entity_id,
            timeouts=(profile.network.connect_timeout_s, profile.network.read_timeout_s),
            redactor=redactor,
        )

    def __repr__(self) -> str:
        return f"ZuoraClient({self.base_url!r}, client_id={self.client_id!r})"

    def _clean(self, text: str) -> str:
        return self.redactor.redact(text)

    # -- token -----------------------------------------------------------------------------

    def _network_error(
        self, exc: requests.RequestException, what: str, *, track_id: str | None = None
    ) -> ZuoraError:
        from cpq_sync_gui.net import describe_network_error

        kind = classify_network_error(exc)
        base = describe_network_error(exc)
        if kind == "network_before_send":
            tail = f"Nothing reached Zuora ({what}), so it is safe to try again."
        else:
            tail = (
                f"The request ({what}) was sent but no complete answer came back: Zuora may "
                "have done it. Check Zuora before sending it again."
            )
        return ZuoraError(kind, self._clean(f"{base} {tail}"), track_id=track_id)

    def _access_token(self) -> str:
        with self._token_lock:
            if self._token is not None and self._clock() < self._token_expires - (
                TOKEN_REFRESH_MARGIN_S
            ):
                return self._token
            self._token = None
            token, lifetime = self._fetch_token()
            self._token = token
            self._token_expires = self._clock() + lifetime
            return token

    def _forget_token(self, token: str) -> None:
        with self._token_lock:
            if self._token == token:
                self._token = None

    def _fetch_token(self) -> tuple[str, float]:
        url = f"{self.base_url}/oauth/token"
        data = {
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "grant_type": "client_credentials",
        }
        response = None
        for attempt in range(2):  # getting a token changes nothing: one retry is safe
            try:
                response = self.session.post(
                    url, data=data, headers={"Accept": "application/json"}, timeout=self.timeouts
                )
                break
            except requests.RequestException as exc:
                if attempt == 1:
                    from cpq_sync_gui.net import describe_network_error

                    # Whatever happened to the token request, the caller's request was not sent.
                    raise ZuoraError(
                        "network_before_send",
                        self._clean(
                            f"Could not get an access token from Zuora: "
                            f"{describe_network_error(exc)} Nothing else was sent, so it is "
                            "safe to try again."
                        ),
                    ) from None
        assert response is not None
        request_id = response.headers.get("Zuora-Request-Id")
        limits = ZuoraLimits.from_headers(response.headers)
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        if status == 429:
            raise ZuoraError(
                "rate_limited",
                "Zuora refused a new access token for now: too many token requests from this "
                "computer (HTTP 429). Wait a minute and try again.",
                status=status,
                request_id=request_id,
                retry_after=_retry_after(response.headers),
                limits=limits,
            )
        if status >= 500:
            raise ZuoraError(
                "server",
                f"Zuora could not give an access token (HTTP {status}). Try again later.",
                status=status,
                request_id=request_id,
                limits=limits,
            )
        if status != 200 or not isinstance(body, dict) or not body.get("access_token"):
            if status in (400, 401, 403):
                raise ZuoraError(
                    "auth",
                    "Zuora did not accept the client ID and secret (HTTP "
                    f"{status}). Check them in the profile (Zuora: Settings → Administration "
                    "→ Manage Users → the API user → OAuth Clients), and that the Zuora "
                    "environment is the right one.",
                    status=status,
                    request_id=request_id,
                    limits=limits,
                )
            raise ZuoraError(
                "auth",
                f"{self.base_url} did not answer like Zuora's login (HTTP {status}). Check the "
                "Zuora environment / REST address in the profile.",
                status=status,
                request_id=request_id,
                limits=limits,
            )
        token = str(body["access_token"])
        self.redactor.register(token)
        self.tokens_fetched += 1
        try:
            lifetime = float(body.get("expires_in") or 3599)
        except (TypeError, ValueError):
            lifetime = 3599.0
        return token, lifetime

    # -- one call --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        track_id: str | None = None,
        read_only: bool | None = None,
    ) -> ZuoraAnswer:
        """One Zuora call. Read-only calls are retried once after a network error; writes never.

        A 401 gets a fresh token and one more try (Zuora did nothing with a 401).
        """
        if not path.startswith("/"):
            raise ValueError("path must start with /")
        if track_id is not None:
            check_track_id(track_id)
        if idempotency_key is not None:
            if method not in ("POST", "PATCH"):
                raise ValueError("Zuora takes an Idempotency-Key only on POST and PATCH")
            _check_idempotency_key(idempotency_key)
        safe = method in ("GET", "HEAD") if read_only is None else read_only
        url = self.base_url + path
        what = f"{method} {path}"
        refreshed = False
        retried = False
        while True:
            token = self._access_token()
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Zuora-Version": self.zuora_version,
            }
            if self.entity_id:
                headers["Zuora-Entity-Ids"] = self.entity_id
            if track_id:
                headers["Zuora-Track-Id"] = track_id
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
            if json_body is not None:
                headers["Content-Type"] = "application/json"
            try:
                response = self.session.request(
                    method,
                    url,
                    data=json.dumps(json_body) if json_body is not None else None,
                    params=params,
                    headers=headers,
                    timeout=self.timeouts,
                )
            except requests.RequestException as exc:
                if safe and not retried:
                    retried = True
                    continue
                raise self._network_error(exc, what, track_id=track_id) from None
            if response.status_code == 401 and not refreshed:
                refreshed = True
                self._forget_token(token)
                continue
            try:
                return self._answer(response, what, idempotency_key is not None, track_id)
            except ZuoraError as error:
                if error.kind == "ambiguous" and safe and not retried:
                    retried = True  # a cut-off answer to a read: read again once
                    continue
                raise

    def _answer(
        self,
        response: requests.Response,
        what: str,
        idempotent: bool,
        track_id: str | None,
    ) -> ZuoraAnswer:
        status = response.status_code
        headers = response.headers
        common: dict[str, Any] = {
            "status": status,
            "request_id": headers.get("Zuora-Request-Id"),
            "track_id": headers.get("Zuora-Track-Id") or track_id,
            "limits": ZuoraLimits.from_headers(headers),
        }
        if common["limits"].concurrency_limit:
            kind = common["limits"].concurrency_type or ""
            self.stated_concurrency_limits[kind] = common["limits"].concurrency_limit
        try:
            body: Any = response.json()
            readable = True
        except ValueError:
            body, readable = None, False
        reasons = _reasons(body)
        detail = _reason_text(reasons) if reasons else " ".join(response.text.split())[:200]
        ref = f" (Zuora request id {common['request_id']})" if common["request_id"] else ""

        not_found = status == 404 and isinstance(body, dict) and body.get("success") is False

        def fail(kind: ErrorKind, message: str, **extra: Any) -> ZuoraError:
            return ZuoraError(
                kind,
                self._clean(message + ref),
                reasons=reasons,
                not_found=not_found,
                **common,
                **extra,
            )

        if status == 429:
            limits: ZuoraLimits = common["limits"]
            which = (
                f"{limits.concurrency_limit} requests at once"
                if limits.concurrency_remaining == 0 and limits.concurrency_limit
                else "its request limit"
            )
            raise fail(
                "rate_limited",
                f"Zuora is busy for this tenant (HTTP 429: over {which}) and did not do "
                f"{what}. Wait a little and try again.",
                retry_after=_retry_after(headers),
            )
        if status >= 500:
            raise fail(
                "server",
                f"Zuora had an internal problem with {what} (HTTP {status}): {detail}. Try "
                "again later.",
            )
        if status == 401:
            raise fail(
                "auth",
                f"Zuora refused the access token for {what} even after logging in again "
                "(HTTP 401). Check the Zuora client ID and secret in the profile.",
            )
        if status == 403:
            raise fail(
                "auth",
                f"The Zuora API user may not do {what} (HTTP 403): {detail}. Check its role "
                "and, for multi-entity tenants, the entity ID in the profile.",
            )
        if status == 409:
            raise fail(
                "conflict",
                f"Zuora is still working on an earlier request with the same idempotency key "
                f"({what}, HTTP 409). Wait a moment, then try again: the key keeps it from "
                "being done twice.",
            )
        if status == 422 and idempotent:
            raise fail(
                "idempotency_mismatch",
                f"Zuora refused {what}: its idempotency key was already used with different "
                "data in the last 24 hours (HTTP 422). The record changed since it was first "
                "sent; check Zuora for what the first attempt did.",
            )
        if 200 <= status < 300 and not readable:
            raise fail(
                "ambiguous",
                f"Zuora's answer to {what} was cut off or unreadable (HTTP {status}): Zuora may "
                "have done it. Check Zuora before sending it again.",
            )
        if status >= 400:
            raise fail("rejected", f"Zuora refused {what} (HTTP {status}): {detail}")
        success = body.get("success", body.get("Success")) if isinstance(body, dict) else None
        if success is False:
            raise fail("rejected", f"Zuora refused {what}: {detail}")
        return ZuoraAnswer(body=body, **common)

    # -- accounts --------------------------------------------------------------------------

    def query(self, zoql_text: str) -> list[dict[str, Any]]:
        """Every record of a ZOQL query, following ``queryLocator`` pages."""
        answer = self.request(
            "POST", "/v1/action/query", json_body={"queryString": zoql_text}, read_only=True
        )
        records = list(answer.get("records") or [])
        while not answer.get("done", True) and answer.get("queryLocator"):
            answer = self.request(
                "POST",
                "/v1/action/queryMore",
                json_body={"queryLocator": answer.get("queryLocator")},
                read_only=True,
            )
            records.extend(answer.get("records") or [])
        return [r for r in records if isinstance(r, dict)]

    def find_accounts_by_crm_id(
        self, ids: Iterable[str], *, include_15: bool = True
    ) -> dict[str, list[ZuoraAccountRef]]:
        """Zuora accounts per Salesforce Account id (18-char key; [] when none).

        One ZOQL query per batch (≤200 conditions). A stored 15-character CRM id matches
        only with its exact letter case; an 18-character one in any case.
        """
        wanted = list(dict.fromkeys(to_18(record_id) for record_id in ids))
        found: dict[str, list[ZuoraAccountRef]] = {record_id: [] for record_id in wanted}
        by_lower18 = {record_id.lower(): record_id for record_id in wanted}
        by_15 = {record_id[:15]: record_id for record_id in wanted}
        for batch in zoql.crm_id_batches(wanted, include_15=include_15):
            conditions = zoql.crm_id_conditions(batch, include_15=include_15)
            # conditions hold only validated Salesforce ids, quoted by zoql.quote
            text = f"select Id, AccountNumber, CrmId from Account where {conditions}"  # noqa: S608
            for record in self.query(text):
                crm = str(record.get("CrmId") or "").strip()
                owner = (
                    by_lower18.get(crm.lower())
                    if len(crm) == 18
                    else by_15.get(crm)
                    if len(crm) == 15
                    else None
                )
                if owner is None:
                    continue
                found[owner].append(
                    ZuoraAccountRef(
                        id=str(record.get("Id")),
                        account_number=str(record.get("AccountNumber") or ""),
                        crm_id=crm,
                    )
                )
        return found

    def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            answer = self.request("GET", path)
        except ZuoraError as error:
            if error.kind == "rejected" and error.is_not_found:
                return None
            raise
        return answer.body if isinstance(answer.body, dict) else None

    def get_account(self, key: str) -> dict[str, Any] | None:
        """An account by id or number (GET /v1/accounts/{key}); None when there is none."""
        return self._get_or_none(f"/v1/accounts/{url_quote(key, safe='')}")

    def create_account(
        self, payload: Mapping[str, Any], *, idempotency_key: str, track_id: str | None = None
    ) -> ZuoraAnswer:
        """POST /v1/accounts once (never retried here); ZuoraError says what happened."""
        return self.request(
            "POST",
            "/v1/accounts",
            json_body=dict(payload),
            idempotency_key=idempotency_key,
            track_id=track_id,
        )

    # -- orders ----------------------------------------------------------------------------

    def create_order(
        self,
        payload: Mapping[str, Any],
        *,
        idempotency_key: str,
        track_id: str | None = None,
        asynchronous: bool = False,
        poll_timeout_s: float = 300.0,
    ) -> ZuoraAnswer:
        """POST /v1/orders, or /v1/async/orders then poll the job (bounded) until it finishes."""
        if not asynchronous:
            return self.request(
                "POST",
                "/v1/orders",
                json_body=dict(payload),
                idempotency_key=idempotency_key,
                track_id=track_id,
            )
        submitted = self.request(
            "POST",
            "/v1/async/orders",
            json_body=dict(payload),
            idempotency_key=idempotency_key,
            track_id=track_id,
        )
        job_id = submitted.get("jobId")
        if not job_id:
            raise ZuoraError(
                "ambiguous",
                "Zuora accepted the order but named no job to follow: check Zuora for the "
                "order before sending it again.",
                status=submitted.status,
                request_id=submitted.request_id,
                track_id=submitted.track_id,
            )
        return self._wait_for_job(str(job_id), submitted, poll_timeout_s, track_id)

    def _wait_for_job(
        self, job_id: str, submitted: ZuoraAnswer, timeout_s: float, track_id: str | None
    ) -> ZuoraAnswer:
        deadline = self._clock() + timeout_s
        interval = self.poll_interval_s
        path = f"/v1/async-jobs/{url_quote(job_id, safe='')}"
        while True:
            try:
                answer = self.request("GET", path, track_id=track_id)
            except ZuoraError as error:
                if error.kind == "rejected" and error.is_not_found:
                    error.job_id = job_id
                    raise
                raise ZuoraError(
                    "ambiguous",
                    self._clean(
                        f"Zuora accepted the order (job {job_id}) but its progress could not be "
                        f"read: {error.message} The order may still be created: check Zuora "
                        "before sending it again."
                    ),
                    status=error.status,
                    request_id=error.request_id,
                    track_id=track_id,
                    job_id=job_id,
                ) from None
            status = str(answer.get("status") or "")
            if status == "Completed":
                result = answer.get("result") or {}
                return ZuoraAnswer(
                    status=answer.status,
                    body=result,
                    request_id=submitted.request_id,
                    track_id=submitted.track_id,
                    limits=answer.limits,
                    job_id=job_id,
                )
            if status == "Failed":
                reasons = _reasons(answer.body)
                raise ZuoraError(
                    "rejected",
                    self._clean(
                        f"Zuora could not create the order (job {job_id} failed): "
                        f"{_reason_text(reasons)}"
                    ),
                    status=answer.status,
                    reasons=reasons,
                    request_id=submitted.request_id,
                    track_id=track_id,
                    job_id=job_id,
                )
            if self._clock() >= deadline:
                raise ZuoraError(
                    "ambiguous",
                    f"Zuora accepted the order (job {job_id}) but it did not finish within "
                    f"{timeout_s:g} seconds. It may still be created: check Zuora before sending "
                    "it again.",
                    request_id=submitted.request_id,
                    track_id=track_id,
                    job_id=job_id,
                )
            self._sleep(min(interval, max(0.0, deadline - self._clock())))
            interval = min(interval * 1.5, self.max_poll_interval_s)

    def get_order(self, order_number: str) -> dict[str, Any] | None:
        """The order with this number (GET /v1/orders/{number}); None when there is none."""
        body = self._get_or_none(f"/v1/orders/{url_quote(order_number, safe='')}")
        if body is None:
            return None
        order = body.get("order")
        return order if isinstance(order, dict) else body

    def order_exists_many(
        self, order_numbers: Iterable[str], *, max_workers: int = 4
    ) -> dict[str, bool]:
        """Which order numbers Zuora already has (one GET each, a few at a time)."""
        numbers = list(dict.fromkeys(order_numbers))
        if not numbers:
            return {}
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(numbers)))) as pool:
            answers = list(pool.map(self.get_order, numbers))
        return {number: answer is not None for number, answer in zip(numbers, answers, strict=True)}

    # -- catalog ---------------------------------------------------------------------------

    def _plans_for_external_id(self, external_id: str) -> tuple[ZuoraRatePlan, ...]:
        with self._cache_lock:
            cached = self._plans_by_external_id.get(external_id)
        if cached is not None:
            return cached
        answer = self.request(
            "GET", f"/v1/product-rate-plans/external-id/{url_quote(external_id, safe='')}"
        )
        raw = answer.get("productRatePlans") or []
        plans = tuple(_rate_plan(p) for p in raw if isinstance(p, dict))
        with self._cache_lock:
            self._plans_by_external_id[external_id] = plans
        return plans

    def _with_charges(self, plans: Iterable[ZuoraRatePlan]) -> None:
        """Fetch the charges of plans that came without them (≤200 plans per ZOQL query)."""
        with self._cache_lock:
            needed = list(
                dict.fromkeys(
                    p.id for p in plans if not p.charges and p.id not in self._plan_charges
                )
            )
        fetched: dict[str, list[ZuoraCharge]] = {plan_id: [] for plan_id in needed}
        fields = "Id, Name, ChargeType, ChargeModel, BillingPeriod, ProductRatePlanId"
        head = f"select {fields} from ProductRatePlanCharge where "  # noqa: S608
        # every value is quoted by zoql.quote; or_queries keeps each query under Zuora's limits
        conditions = (f"ProductRatePlanId = {zoql.quote(i)}" for i in needed)
        for text in or_queries(head, conditions):
            for record in self.query(text):
                plan_id = str(record.get("ProductRatePlanId"))
                if plan_id in fetched:
                    fetched[plan_id].append(_charge(record))
        with self._cache_lock:
            self._plan_charges.update({k: tuple(v) for k, v in fetched.items()})

    def _charged(self, plan: ZuoraRatePlan) -> ZuoraRatePlan:
        if plan.charges:
            return plan
        with self._cache_lock:
            charges = self._plan_charges.get(plan.id, ())
        return dataclasses.replace(plan, charges=charges)

    def product_by_sku(self, sku: str) -> ZuoraProduct | None:
        """The catalog product with this SKU and its rate plans and charges (cached)."""
        with self._cache_lock:
            if sku in self._products_by_sku:
                return self._products_by_sku[sku]
        body = self._get_or_none(f"/v1/catalog/product/{url_quote(sku, safe='')}")
        product = _product(body) if body is not None and body.get("id") else None
        if product is not None and product.sku and product.sku != sku:
            product = None  # the key matched an id or product number, not this SKU
        with self._cache_lock:
            self._products_by_sku[sku] = product
        return product

    def find_rate_plans(self, product2_ids: Iterable[str], skus: Iterable[str]) -> CatalogMatch:
        """Catalog rate plans for Salesforce products (cached per id, plan and SKU).

        A Product2 id finds the ProductRatePlans whose externallyManagedPlanId is that id (18,
        then 15 characters), with their charges; a SKU (Product2.ProductCode) finds the product
        with all its rate plans. :meth:`CatalogMatch.rate_plans_for` prefers the first.
        """
        found: dict[str, tuple[ZuoraRatePlan, ...]] = {}
        missing_ids: set[str] = set()
        for product2_id in dict.fromkeys(to_18(p) for p in product2_ids):
            plans = self._plans_for_external_id(product2_id) or self._plans_for_external_id(
                product2_id[:15]
            )
            if plans:
                found[product2_id] = plans
            else:
                missing_ids.add(product2_id)
        self._with_charges(p for plans in found.values() for p in plans)
        by_product2 = {key: tuple(self._charged(p) for p in plans) for key, plans in found.items()}
        by_sku: dict[str, ZuoraProduct] = {}
        missing_skus: set[str] = set()
        for sku in dict.fromkeys(s for s in skus if s):
            product = self.product_by_sku(sku)
            if product is None:
                missing_skus.add(sku)
            else:
                by_sku[sku] = product
        return CatalogMatch(by_product2, by_sku, frozenset(missing_ids), frozenset(missing_skus))
