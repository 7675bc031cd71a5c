"""The simulated Zuora REST API (OAuth, ZOQL, accounts, orders, catalog) served by the sandbox."""

from __future__ import annotations

import collections
import hashlib
import math
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.credentials import SandboxCredentials
from cpq_sync_gui.sandbox.http import Request, Response
from cpq_sync_gui.sandbox.zuora_tenant import (
    IDEMPOTENCY_TTL_S,
    INVALID_VALUE,
    MALFORMED,
    NOT_FOUND,
    SYNC_ORDER_LIMIT,
    ZuoraError,
    ZuoraTenant,
)
from cpq_sync_gui.sandbox.zuora_zoql import ZoqlError

# --- wire facts (sources in the module's tests and the sandbox docs) ---------------------------
# 401 on a /v1 call: body ProxyUnauthorizedResponse {"message": "Authentication error"} and this
# WWW-Authenticate value (zuora-sdk 3.21.0 API docs, generated from Zuora's OpenAPI spec).
WWW_AUTHENTICATE = "Basic realm=Zuora API, ZSession realm=Zuora API, Bearer realm=Zuora API"
# A bad client id/secret on POST /oauth/token: unconfirmed. The spec lists 401 with
# {"message": ...}; OAuth servers answer {"error": "invalid_client"}. The sandbox sends both keys.
INVALID_CLIENT_BODY = {
    "error": "invalid_client",
    "error_description": "Bad client credentials",
    "message": "Authentication error",
}
# A concurrency 429 as Zuora sends it (quoted in gitlab.com/gitlab-org/customers-gitlab-com#8514).
CONCURRENCY_BODY = {
    "code": "REQUEST_EXCEEDED_LIMIT",
    "message": "Your total number of concurrent requests have exceeded the limit allowed by the "
    "system. Please resubmit your request later.",
}
AUTH_RATE_PER_MINUTE = 2000  # developer.zuora.com/docs/guides/rate-limits (AUTH RPM)
DEFAULT_TYPE, HIGH_VOLUME_TYPE = "Default", "High-volume transactions"
DEFAULT_VERSION = 186.0  # what a tenant answers as when Zuora-Version is absent or unknown
_TRACK_ID = re.compile(r"^[\x20-\x7e]{1,64}$")
_TRACK_ID_FORBIDDEN = set(":;\"'")


def _minor_version(value: str | None) -> float:
    """Numeric minor version; date-style versions (2024-05-20) are newer than all numbered ones."""
    if not value:
        return DEFAULT_VERSION
    if re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        return 10_000.0
    try:
        return float(value)
    except ValueError:
        return DEFAULT_VERSION


@dataclass
class _Idempotent:
    fingerprint: str
    created: float
    response: Response | None = None  # None while the first request is in flight


@dataclass
class _Window:
    """Requests in the last 60 s of the tenant clock."""

    limit: int
    stamps: collections.deque[float] = field(default_factory=collections.deque)


class ZuoraService:
    """``Service`` for the sandbox's HTTPS server: Zuora's REST API over a :class:`ZuoraTenant`."""

    name = "zuora"

    def __init__(
        self, tenant: ZuoraTenant, config: SandboxConfig, credentials: SandboxCredentials
    ) -> None:
        self.tenant = tenant
        self.config = config
        self.credentials = credentials
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # access token -> expiry on the tenant clock
        self._in_flight: dict[str, int] = {DEFAULT_TYPE: 0, HIGH_VOLUME_TYPE: 0}
        self._api_window = _Window(config.zuora_rate_per_minute)
        self._auth_window = _Window(AUTH_RATE_PER_MINUTE)
        self._idempotency: dict[str, _Idempotent] = {}
        self.versions_seen: collections.Counter[str] = collections.Counter()  # "" = none sent
        self.tokens_issued = 0
        # Test hook: called for every admitted /v1 request before it is handled (while it
        # counts as in flight), e.g. to hold requests open and provoke 409 or 429 answers.
        self.pause_hook: Callable[[Request], None] | None = None

    # --- entry point ----------------------------------------------------------------------------

    @property
    def spends_latency(self) -> bool:
        """True: the server leaves the injected latency to :meth:`handle` (see the config)."""
        return self.config.zuora_latency_in_slot

    def handle(self, request: Request) -> Response:
        response = self._answer(request)
        self._spend_latency(request)  # what was not spent inside a concurrency slot
        return response

    def _spend_latency(self, request: Request) -> None:
        delay, request.latency_s = request.latency_s, 0.0
        if delay > 0:
            time.sleep(delay)

    def _answer(self, request: Request) -> Response:
        headers = {"Zuora-Request-Id": str(uuid.uuid4())}
        track = request.header("Zuora-Track-Id")
        if track is not None:
            if not _TRACK_ID.match(track) or _TRACK_ID_FORBIDDEN & set(track):
                return self._finish(
                    Response.json(
                        {
                            "message": "Zuora-Track-Id must be at most 64 US-ASCII characters "
                            "without : ; \" or '"
                        },
                        400,
                    ),
                    headers,
                )
            headers["Zuora-Track-Id"] = track
        if request.path == "/oauth/token":
            return self._finish(self._token(request, headers), headers)
        return self._api(request, headers)

    def _finish(self, response: Response, headers: dict[str, str]) -> Response:
        response.headers.update(headers)
        return response

    # --- rate limits ----------------------------------------------------------------------------

    def _admit(self, window: _Window) -> tuple[bool, dict[str, str]]:
        now = self.tenant.now()
        with self._lock:
            window.limit = (
                self.config.zuora_rate_per_minute if window is self._api_window else window.limit
            )
            while window.stamps and window.stamps[0] <= now - 60:
                window.stamps.popleft()
            allowed = len(window.stamps) < window.limit
            if allowed:
                window.stamps.append(now)
            reset = math.ceil(window.stamps[0] + 60 - now) if window.stamps else 60
            headers = {
                # developer.zuora.com/docs/guides/rate-limits: "2250000, 50000;w=60, ..."
                "RateLimit-Limit": f"{window.limit}, {window.limit};w=60",
                "RateLimit-Remaining": str(max(0, window.limit - len(window.stamps))),
                "RateLimit-Reset": str(max(1, reset)),
            }
            return allowed, headers

    # --- OAuth ----------------------------------------------------------------------------------

    def _token(self, request: Request, headers: dict[str, str]) -> Response:
        allowed, rate = self._admit(self._auth_window)
        headers.update(rate)
        if not allowed:
            return Response.json({"message": "Too Many Requests"}, 429)
        if request.method != "POST":
            return Response.json({"message": "Method Not Allowed"}, 405)
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return Response.json(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be client_credentials",
                },
                400,
            )
        if (
            form.get("client_id") != self.credentials.zuora_client_id
            or form.get("client_secret") != self.credentials.zuora_client_secret
        ):
            return Response.json(INVALID_CLIENT_BODY, 401)
        token = secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = self.tenant.now() + self.config.token_lifetime_s
            self.tokens_issued += 1
        return Response.json(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": int(self.config.token_lifetime_s),
                "scope": f"user.{uuid.uuid4().hex} entity.{uuid.uuid4()} service.echo.read "
                "tenant.9999",
                "jti": secrets.token_hex(16),
            }
        )

    def _authorized(self, request: Request) -> bool:
        value = request.header("Authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        with self._lock:
            expiry = self._tokens.get(token.strip())
            if expiry is None:
                return False
            if expiry <= self.tenant.now():
                del self._tokens[token.strip()]
                return False
            return True

    def expire_tokens(self) -> None:
        """Test helper: every issued token stops working, as after an hour."""
        with self._lock:
            self._tokens.clear()

    # --- /v1 pipeline ---------------------------------------------------------------------------

    def _concurrency_type(self, request: Request) -> str:
        high = request.method == "POST" and request.path in (
            "/v1/accounts",
            "/v1/orders",
            "/v1/async/orders",
        )
        return HIGH_VOLUME_TYPE if high else DEFAULT_TYPE

    def _concurrency_headers(self, kind: str) -> dict[str, str]:
        limit = self.config.zuora_concurrency_limit
        with self._lock:
            remaining = max(0, limit - self._in_flight[kind])
        return {
            "Concurrency-Limit-Type": kind,
            "Concurrency-Limit-Limit": str(limit),
            "Concurrency-Limit-Remaining": str(remaining),
        }

    def in_flight(self, kind: str = DEFAULT_TYPE) -> int:
        """How many requests of this concurrency type hold a slot now."""
        with self._lock:
            return self._in_flight[kind]

    def _api(self, request: Request, headers: dict[str, str]) -> Response:
        kind = self._concurrency_type(request)
        if not self._authorized(request):
            response = Response.json({"message": "Authentication error"}, 401)
            response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
            return self._finish(response, headers)
        with self._lock:
            self.versions_seen[request.header("Zuora-Version") or ""] += 1
        allowed, rate = self._admit(self._api_window)
        headers.update(rate)
        if not allowed:
            headers.update(self._concurrency_headers(kind))
            return self._finish(Response.json({"message": "Too Many Requests"}, 429), headers)
        limit = self.config.zuora_concurrency_limit
        with self._lock:
            admitted = self._in_flight[kind] < limit
            if admitted:
                self._in_flight[kind] += 1
        if not admitted:
            headers.update(self._concurrency_headers(kind))
            return self._finish(Response.json(CONCURRENCY_BODY, 429), headers)
        try:
            headers.update(self._concurrency_headers(kind))
            self._spend_latency(request)  # a real tenant holds the slot while it works
            response = self._idempotent(request, headers)
        finally:
            with self._lock:
                self._in_flight[kind] -= 1
        return self._finish(response, headers)

    def _idempotent(self, request: Request, headers: dict[str, str]) -> Response:
        key = request.header("Idempotency-Key")
        if key is None or request.method not in ("POST", "PATCH"):
            return self._dispatch(request)
        if len(key) > 255:
            return self._failure(
                ZuoraError(INVALID_VALUE, "Idempotency-Key must be at most 255 characters."), 400
            )
        fingerprint = hashlib.sha256(
            f"{request.method}\0{request.path}\0".encode() + request.body
        ).hexdigest()
        now = self.tenant.now()
        with self._lock:
            for old in [
                k for k, v in self._idempotency.items() if v.created + IDEMPOTENCY_TTL_S <= now
            ]:
                del self._idempotency[old]
            entry = self._idempotency.get(key)
            if entry is None:
                entry = _Idempotent(fingerprint, now)
                self._idempotency[key] = entry
                fresh = True
            else:
                fresh = False
        if not fresh:
            if entry.fingerprint != fingerprint:
                return self._failure(
                    ZuoraError(
                        INVALID_VALUE,
                        "The idempotency key was already used with a different request "
                        "(method, URL or body).",
                    ),
                    422,
                )
            if entry.response is None:
                return self._failure(
                    ZuoraError(
                        50,
                        "A request with the same idempotency key is still being processed.",
                    ),
                    409,
                )
            # "the resulting status code, headers, and the body of this request is saved"
            saved = entry.response
            headers["Zuora-Request-Id"] = saved.headers.get(
                "Zuora-Request-Id", headers["Zuora-Request-Id"]
            )
            return Response(saved.status, saved.body, dict(saved.headers))
        try:
            response = self._dispatch(request)
        except BaseException:
            with self._lock:
                self._idempotency.pop(key, None)
            raise
        response.headers.setdefault("Zuora-Request-Id", headers["Zuora-Request-Id"])
        with self._lock:
            entry.response = Response(response.status, response.body, dict(response.headers))
        return response

    def _failure(self, error: ZuoraError, status: int | None = None) -> Response:
        return Response.json(error.body(secrets.token_hex(8).upper()), status or error.http_status)

    # --- routing --------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        if self.pause_hook is not None:
            self.pause_hook(request)
        routes: list[tuple[str, str, Callable[..., Response]]] = [
            ("POST", r"/v1/action/query", self._query),
            ("POST", r"/v1/action/queryMore", self._query_more),
            ("POST", r"/v1/accounts", self._create_account),
            ("GET", r"/v1/accounts/(?P<key>[^/]+)", self._get_account),
            ("PUT", r"/v1/accounts/(?P<key>[^/]+)", self._update_account),
            ("GET", r"/v1/accounts/(?P<key>[^/]+)/summary", self._account_summary),
            ("POST", r"/v1/orders", self._create_order),
            ("POST", r"/v1/async/orders", self._create_order_async),
            ("GET", r"/v1/async-jobs/(?P<job>[^/]+)", self._job),
            ("GET", r"/v1/orders/(?P<number>[^/]+)", self._get_order),
            ("GET", r"/v1/subscriptions/(?P<number>[^/]+)", self._get_subscription),
            ("GET", r"/v1/catalog/products", self._products),
            ("GET", r"/v1/catalog/product/(?P<key>[^/]+)", self._product),
            ("GET", r"/v1/product-rate-plans/external-id/(?P<ext>[^/]+)", self._plans_by_ext),
        ]
        path_matched = False
        for method, pattern, handler in routes:
            match = re.fullmatch(pattern, request.path)
            if match is None:
                continue
            path_matched = True
            if method == request.method:
                try:
                    return handler(request, **match.groupdict())
                except ZuoraError as error:
                    return self._failure(error)
        if path_matched:
            return self._failure(ZuoraError(45, f"{request.method} is not supported here."), 405)
        return Response.json({"message": f"no resources match requested URI {request.path}"}, 404)

    def _json_body(self, request: Request) -> Any:
        try:
            return request.json()
        except (ValueError, UnicodeDecodeError) as exc:
            raise ZuoraError(
                MALFORMED, f"Malformed JSON in the request body: {exc}", http_status=400
            ) from None

    # --- handlers -------------------------------------------------------------------------------

    def _query(self, request: Request) -> Response:
        body = self._json_body(request)
        text = body.get("queryString") if isinstance(body, dict) else None
        if not isinstance(text, str):
            return Response.json(
                {"FaultCode": "MALFORMED_QUERY", "FaultMessage": "queryString is required"}, 400
            )
        try:
            return Response.json(self.tenant.query(text))
        except ZoqlError as error:
            return Response.json(
                {"FaultCode": error.fault_code, "FaultMessage": error.message}, 400
            )

    def _query_more(self, request: Request) -> Response:
        body = self._json_body(request)
        locator = body.get("queryLocator") if isinstance(body, dict) else None
        try:
            return Response.json(self.tenant.query_more(str(locator)))
        except ZoqlError as error:
            return Response.json(
                {"FaultCode": error.fault_code, "FaultMessage": error.message}, 400
            )

    def _create_account(self, request: Request) -> Response:
        return Response.json(self.tenant.create_account(self._json_body(request)))

    def _update_account(self, request: Request, key: str) -> Response:
        return Response.json(self.tenant.update_account(key, self._json_body(request)))

    def _account_or_404(self, key: str) -> dict[str, Any]:
        account = self.tenant.account_by_key(key)
        if account is None:
            raise ZuoraError(NOT_FOUND, f"Cannot find entity by key: '{key}'.")
        return account

    @staticmethod
    def _contact(contact: dict[str, Any] | None) -> dict[str, Any] | None:
        if contact is None:
            return None
        return {k: v for k, v in contact.items() if k != "accountId"}

    def _basic_info(self, account: dict[str, Any]) -> dict[str, Any]:
        info = {
            "id": account["id"],
            "accountNumber": account["accountNumber"],
            "name": account["name"],
            "crmId": account["crmId"],
            "status": account["status"],
            "parentId": account["parentId"],
            "salesRep": account["salesRep"],
            "notes": account["notes"],
            "batch": account["batch"],
        }
        info.update(account["customFields"])
        return info

    def _get_account(self, request: Request, key: str) -> Response:
        account = self._account_or_404(key)
        return Response.json(
            {
                "success": True,
                "basicInfo": self._basic_info(account),
                "billingAndPayment": {
                    "billCycleDay": account["billCycleDay"],
                    "currency": account["currency"],
                    "paymentTerm": account["paymentTerm"],
                    "autoPay": account["autoPay"],
                    "invoiceDeliveryPrefsEmail": False,
                    "invoiceDeliveryPrefsPrint": False,
                    "additionalEmailAddresses": [],
                },
                "metrics": {
                    "balance": 0,
                    "currency": account["currency"],
                    "totalInvoiceBalance": 0,
                    "creditBalance": 0,
                    "contractedMrr": 0,
                },
                "billToContact": self._contact(account["billToContact"]),
                "soldToContact": self._contact(account["soldToContact"]),
            }
        )

    def _subscription_view(self, sub: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": sub["id"],
            "subscriptionNumber": sub["subscriptionNumber"],
            "accountId": sub["accountId"],
            "accountNumber": sub["accountNumber"],
            "status": sub["status"],
            "termType": sub["termType"],
            "initialTerm": sub["initialTerm"],
            "initialTermPeriodType": sub["initialTermPeriodType"],
            "termStartDate": sub["termStartDate"],
            "termEndDate": sub["termEndDate"],
            "autoRenew": sub["autoRenew"],
            "renewalSetting": sub["renewalSetting"],
            "orderNumber": sub.get("orderNumber"),
            "ratePlans": sub["ratePlans"],
        }

    def _account_summary(self, request: Request, key: str) -> Response:
        account = self._account_or_404(key)
        info = self._basic_info(account)
        info.update(
            {
                "balance": 0,
                "currency": account["currency"],
                "billCycleDay": account["billCycleDay"],
                "autoPay": account["autoPay"],
            }
        )
        subs = self.tenant.subscriptions_of_account(account["id"])
        return Response.json(
            {
                "success": True,
                "basicInfo": info,
                "billToContact": self._contact(account["billToContact"]),
                "soldToContact": self._contact(account["soldToContact"]),
                "subscriptions": [self._subscription_view(s) for s in subs],
                "invoices": [],
                "payments": [],
                "usage": [],
            }
        )

    def _order_answer(self, request: Request, result: dict[str, Any]) -> dict[str, Any]:
        answer = dict(result)
        # "subscriptions" in the answer needs Zuora-Version 223.0 or later (CreateOrderResponse).
        if _minor_version(request.header("Zuora-Version")) < 223.0:
            answer.pop("subscriptions", None)
        return answer

    def _create_order(self, request: Request) -> Response:
        result = self.tenant.create_order(self._json_body(request), limit=SYNC_ORDER_LIMIT)
        return Response.json(self._order_answer(request, result))

    def _create_order_async(self, request: Request) -> Response:
        job_id = self.tenant.submit_async_order(
            self._json_body(request), self.config.async_order_delay_s
        )
        return Response.json({"jobId": job_id, "success": True})

    def _job(self, request: Request, job: str) -> Response:
        found = self.tenant.job(job)
        if found is None:
            raise ZuoraError(NOT_FOUND, f"Cannot find entity by key: '{job}'.")
        body: dict[str, Any] = {"success": True, "status": found["status"], "errors": None}
        if found["status"] == "Completed":
            body["result"] = {
                "jobType": "AsyncCreateOrder",
                **self._order_answer(request, found["result"]),
            }
        elif found["status"] == "Failed":
            error: ZuoraError = found["error"]
            body["errors"] = "; ".join(message for _, message in error.reasons)
            body["reasons"] = [{"code": c, "message": m} for c, m in error.reasons]
        return Response.json(body)

    def _get_order(self, request: Request, number: str) -> Response:
        order = self.tenant.order_by_number(number)
        if order is None:
            raise ZuoraError(NOT_FOUND, f"Cannot find entity by key: '{number}'.")
        subs = self.tenant.subscriptions_for(number)
        order["subscriptions"] = [
            {
                "subscriptionNumber": s["subscriptionNumber"],
                "sequence": i,
                "baseVersion": None,
                "newVersion": 1,
                "subscriptionOwnerAccountNumber": s["accountNumber"],
                "customFields": s.get("customFields") or {},
                "orderActions": [
                    {
                        **s["request"],
                        "sequence": 0,
                        "triggerDates": s["request"].get("triggerDates")
                        or [{"name": "ContractEffective", "triggerDate": order["orderDate"]}],
                    }
                ],
            }
            for i, s in enumerate(sorted(subs, key=lambda s: s["subscriptionNumber"]))
        ]
        order.pop("subscriptionNumbers", None)
        return Response.json({"success": True, "order": order})

    def _get_subscription(self, request: Request, number: str) -> Response:
        sub = self.tenant.subscription_by_number(number)
        if sub is None:
            raise ZuoraError(NOT_FOUND, f"Cannot find entity by key: '{number}'.")
        return Response.json({"success": True, **self._subscription_view(sub)})

    def _product_view(self, product: dict[str, Any]) -> dict[str, Any]:
        tenant = self.tenant
        plans = []
        for plan_id in product["productRatePlanIds"]:
            plan = tenant.rate_plans[plan_id]
            plans.append(
                {
                    **{k: v for k, v in plan.items() if k != "productRatePlanChargeIds"},
                    "productRatePlanCharges": [
                        {
                            "id": c["id"],
                            "name": c["name"],
                            "number": c["number"],
                            "type": c["type"],
                            "model": c["model"],
                            "billingPeriod": c["billingPeriod"],
                            "pricing": [
                                {"currency": cur, "price": price}
                                for cur, price in sorted(c["prices"].items())
                            ],
                        }
                        for c in (tenant.charges[i] for i in plan["productRatePlanChargeIds"])
                    ],
                }
            )
        view = {k: v for k, v in product.items() if k != "productRatePlanIds"}
        # The catalog answer carries at most 300 rate plans (GET_Product in the API reference).
        view["productRatePlans"] = plans[:300]
        return view

    def _product(self, request: Request, key: str) -> Response:
        product = self.tenant.product_by_key(key)
        if product is None:
            raise ZuoraError(NOT_FOUND, f"Cannot find entity by key: '{key}'.")
        return Response.json({"success": True, **self._product_view(product)})

    def _products(self, request: Request) -> Response:
        try:
            page = max(1, int(request.arg("page", "1") or 1))
            size = min(40, max(1, int(request.arg("pageSize", "10") or 10)))
        except ValueError:
            raise ZuoraError(INVALID_VALUE, "page and pageSize must be numbers") from None
        products = list(self.tenant.products.values())
        chunk = products[(page - 1) * size : page * size]
        body: dict[str, Any] = {
            "success": True,
            "products": [self._product_view(p) for p in chunk],
        }
        if page * size < len(products):
            body["nextPage"] = f"/v1/catalog/products?page={page + 1}&pageSize={size}"
        return Response.json(body)

    def _plans_by_ext(self, request: Request, ext: str) -> Response:
        plans = self.tenant.rate_plans_by_external_id(ext)
        return Response.json(
            {
                "success": True,
                "productRatePlans": [
                    {
                        "id": p["id"],
                        "name": p["name"],
                        "productRatePlanNumber": p["productRatePlanNumber"],
                        "description": p["description"],
                        "effectiveStartDate": p["effectiveStartDate"],
                        "effectiveEndDate": p["effectiveEndDate"],
                        "externallyManagedPlanIds": p["externallyManagedPlanIds"],
                        "ExternalIdSourceSystem": p["externalIdSourceSystem"],
                        "status": p["status"],
                    }
                    for p in plans
                ],
            }
        )
