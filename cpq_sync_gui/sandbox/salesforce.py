"""The sandbox Salesforce org over HTTPS: login host and instance, REST API and Metadata API."""

from __future__ import annotations

import re
import secrets
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cpq_sync_gui.salesforce.ids import IdFactory
from cpq_sync_gui.sandbox import soql
from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.credentials import SandboxCredentials
from cpq_sync_gui.sandbox.http import Request, Response
from cpq_sync_gui.sandbox.org import OrgStore
from cpq_sync_gui.sandbox.salesforce_auth import (
    Identity,
    SalesforceAuth,
    Session,
    SessionStore,
    login_fault,
)
from cpq_sync_gui.sandbox.salesforce_metadata import (
    MetadataApi,
    describe_sobject,
    describe_summary,
    metadata_fault,
)
from cpq_sync_gui.sandbox.schema import SObjectDef

OLDEST_VERSION = 20
DEFAULT_BATCH = 2000
CURSOR_IDLE_S = 15 * 60  # Salesforce closes a query cursor after 15 minutes of inactivity
CURSORS_PER_USER = 10  # ...and keeps at most 10 open per user, closing the oldest
MAX_CURSORS = 100
NOT_FOUND = "The requested resource does not exist"
_VERSION_PATH = re.compile(r"^/services/data/v(\d+\.\d)(?:/(.*))?$")
_SOAP_PATH = re.compile(r"^/services/Soap/([um])/(\d+\.\d)(?:/.*)?$")
_LOCATOR = re.compile(r"^(01g[0-9A-Za-z]{15})-(\d+)$")
_ID = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*$")


def _errors(status: int, code: str, message: str, **extra: Any) -> Response:
    return Response.json([{"message": message, "errorCode": code, **extra}], status)


def _release_label(version: int) -> str:
    season = ("Spring", "Summer", "Winter")[version % 3]
    anchor = {"Spring": 60, "Summer": 61, "Winter": 62}[season]
    year = (version - anchor) // 3 + (25 if season == "Winter" else 24)
    return f"{season} '{year:02d}"


class ApiUsage:
    """The org's daily API request count (every authenticated API call counts)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def consume(self) -> bool:
        """Count one call; False (and nothing counted) once the allowance is used up."""
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    def set(self, used: int) -> None:
        with self._lock:
            self.used = used

    def header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.used}/{self.limit}"}


@dataclass
class _Cursor:
    """A query result kept for paging: the record list is shared, pages are slices of it."""

    records: list[dict[str, Any]]
    total_size: int
    batch: int
    owner: str
    touched: float


class SalesforceService:
    """A Salesforce CPQ org: SOAP/OAuth login host, REST instance and Metadata API in one server.

    Test hooks: :meth:`expire_all_sessions`, :meth:`deny_metadata_for` /
    :meth:`allow_metadata_for`, :meth:`set_api_usage`; ``clock`` can be replaced to age
    sessions, authorization codes and query cursors without sleeping.
    """

    name = "salesforce"

    def __init__(
        self,
        org: OrgStore,
        config: SandboxConfig,
        credentials: SandboxCredentials,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.org = org
        self.config = config
        self.credentials = credentials
        self.clock = clock
        self.usage = ApiUsage(config.daily_api_limit)
        self.org_id, org_name = self._organization()
        self.users = {u.username.lower(): u for u in self._ensure_users()}
        self.sessions = SessionStore(self.org_id, config.session_lifetime_s, self._now)
        self.auth = SalesforceAuth(
            self.org_id, org_name, config, credentials, self.users, self.sessions
        )
        self.metadata = MetadataApi(org, self.sessions.get, self.usage.consume)
        self._versions = [f"{v}.0" for v in range(OLDEST_VERSION, self._newest() + 1)]
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._cursor_lock = threading.Lock()

    def _now(self) -> float:
        return self.clock()

    # --- test hooks ------------------------------------------------------------------------

    def expire_all_sessions(self) -> None:
        """Every session (access token) becomes invalid, as after a session timeout."""
        self.sessions.expire_all()

    def deny_metadata_for(self, username: str) -> None:
        """Metadata API calls by ``username`` fail as for a user without Modify Metadata."""
        self.metadata.deny_for(username)

    def allow_metadata_for(self, username: str) -> None:
        self.metadata.allow_for(username)

    def set_api_usage(self, used: int) -> None:
        """Pretend ``used`` API calls were made today (e.g. the limit minus one)."""
        self.usage.set(used)

    @property
    def api_usage(self) -> tuple[int, int]:
        return self.usage.used, self.usage.limit

    @property
    def open_cursors(self) -> int:
        with self._cursor_lock:
            return len(self._cursors)

    # --- set-up ----------------------------------------------------------------------------

    def _newest(self) -> int:
        return int(float(self.config.api_version))

    def _organization(self) -> tuple[str, str]:
        if self.org.sobject("Organization") is not None:
            found = self.org.all("Organization")
            if found:
                return found[0]["Id"], str(found[0].get("Name") or "Sandbox org")
            return self.org.insert("Organization", {"Name": "CPQ Sync Sandbox"}), "CPQ Sync Sandbox"
        return IdFactory(self.config.seed)("00D"), "CPQ Sync Sandbox"

    def _ensure_users(self) -> list[Identity]:
        """The credentials' users, added to the org's User records when missing."""
        people = (
            (self.credentials.sf_username, "Sandbox", "Admin"),
            (self.credentials.sf_locked_username, "Locked", "User"),
        )
        fallback = IdFactory(self.config.seed, pod="9z")
        has_users = self.org.sobject("User") is not None
        identities = []
        for username, first, last in people:
            existing = (
                self.org.where("User", lambda r, u=username: r.get("Username") == u)
                if has_users
                else []
            )
            if existing:
                record = existing[0]
                user_id = record["Id"]
                first = record.get("FirstName") or first
                last = record.get("LastName") or last
            elif has_users:
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
                user_id = self.org.insert(
                    "User",
                    {
                        "Username": username,
                        "FirstName": first,
                        "LastName": last,
                        "Name": f"{first} {last}",
                        "Alias": (first[0] + last)[:8].lower(),
                        "Email": username,
                        "IsActive": True,
                        "TimeZoneSidKey": "America/Los_Angeles",
                        "LocaleSidKey": "en_US",
                        "LanguageLocaleKey": "en_US",
                        "CreatedDate": stamp,
                        "LastModifiedDate": stamp,
                        "SystemModstamp": stamp,
                    },
                )
            else:
                user_id = fallback("005")
            identities.append(Identity(username, user_id, first, last, username))
        return identities

    # --- routing ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        soap = _SOAP_PATH.match(path)
        if soap:
            kind, version = soap.groups()
            if request.method != "POST":
                return Response.text("Method Not Allowed", 405)
            if version not in self._versions:
                fault = login_fault if kind == "u" else metadata_fault
                return fault(
                    "UNSUPPORTED_API_VERSION", f"Invalid Api version specified on URL: {version}"
                )
            if kind == "u":
                return self.auth.soap_login(request, version)
            return self.metadata.handle(request)
        if path.startswith("/services/oauth2/"):
            return self._oauth(request, path.removeprefix("/services/oauth2/").rstrip("/"))
        if path.startswith("/id/"):
            return self._identity(request, path)
        if path in ("/services/data", "/services/data/"):
            return self._with_usage(Response.json(self._version_list()))
        match = _VERSION_PATH.match(path)
        if match:
            return self._with_usage(self._rest(request, match.group(1), match.group(2) or ""))
        return _errors(404, "NOT_FOUND", NOT_FOUND)

    def _with_usage(self, response: Response) -> Response:
        response.headers.update(self.usage.header())
        return response

    def _bearer(self, request: Request) -> Session | None:
        value = request.header("authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return None
        return self.sessions.get(token.strip())

    def _oauth(self, request: Request, endpoint: str) -> Response:
        if endpoint == "token" and request.method == "POST":
            return self.auth.token(request)
        if endpoint == "authorize" and request.method in ("GET", "POST"):
            return self.auth.authorize(request)
        if endpoint == "revoke" and request.method in ("GET", "POST"):
            return self.auth.revoke(request)
        if endpoint == "userinfo" and request.method in ("GET", "POST"):
            session = self._bearer(request)
            if session is None:
                return Response.text("Bad_OAuth_Token", 403)
            return Response.json(self.auth.identity_json(request, session, openid=True))
        return Response.text("Not Found", 404)

    def _identity(self, request: Request, path: str) -> Response:
        session = self._bearer(request) or self.sessions.get(request.arg("oauth_token"))
        if session is None:
            return Response.text("Bad_OAuth_Token", 403)
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[1] != self.org_id:
            return Response.text("Bad_Id", 404)
        target = next((u for u in self.users.values() if u.user_id == parts[2]), None)
        if target is None:
            return Response.text("Bad_Id", 404)
        as_target = Session(session.token, target, session.created)
        return Response.json(self.auth.identity_json(request, as_target, openid=False))

    def _version_list(self) -> list[dict[str, str]]:
        return [
            {"label": _release_label(int(float(v))), "url": f"/services/data/v{v}", "version": v}
            for v in self._versions
        ]

    # --- REST ------------------------------------------------------------------------------

    def _rest(self, request: Request, version: str, rest: str) -> Response:
        if version not in self._versions:
            return _errors(404, "NOT_FOUND", NOT_FOUND)
        session = self._bearer(request)
        if session is None:
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if not self.usage.consume():
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        parts = [p for p in rest.split("/") if p]
        if request.method not in ("GET", "HEAD"):
            return _errors(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD",
            )
        head = parts[0] if parts else ""
        if not parts:
            return Response.json(self._resources(request, version, session))
        if head in ("query", "queryAll") and len(parts) <= 2:
            if len(parts) == 2:
                return self._next_page(request, version, session, head, parts[1])
            return self._query(request, version, session, head)
        if head == "sobjects":
            return self._sobjects(request, version, parts[1:])
        if parts == ["limits"]:
            return Response.json(self._limits())
        if len(parts) == 3 and parts[:2] == ["composite", "sobjects"]:
            return self._collection(request, version, parts[2])
        return _errors(404, "NOT_FOUND", NOT_FOUND)

    def _resources(self, request: Request, version: str, session: Session) -> dict[str, str]:
        base = f"/services/data/v{version}"
        names = (
            "tooling", "metadata", "eclair", "folders", "prechatForms", "chatter", "tabs",
            "appMenu", "quickActions", "queryAll", "commerce", "wave", "analytics", "search",
            "composite", "parameterizedSearch", "theme", "nouns", "event", "serviceTemplates",
            "recent", "connect", "licensing", "limits", "process", "async-queries", "query", "jobs",
            "match", "emailConnect", "compactLayouts", "knowledgeManagement", "sobjects", "actions",
            "support",
        )  # fmt: skip
        resources = {name: f"{base}/{name}" for name in names}
        resources["identity"] = f"{request.base_url}/id/{self.org_id}/{session.identity.user_id}"
        return resources

    # --- queries ---------------------------------------------------------------------------

    def _batch_size(self, request: Request) -> int | Response:
        options = request.header("sforce-query-options")
        if not options:
            return DEFAULT_BATCH
        for option in options.split(","):
            key, _, value = option.partition("=")
            if key.strip().lower() == "batchsize":
                value = value.strip()
                if not value.isdigit() or not 200 <= int(value) <= 2000:
                    return _errors(
                        400,
                        "INVALID_BATCH_SIZE",
                        f"Invalid batch size: {value}. The batch size must be between 200 and 2000.",
                    )
                return int(value)
        return DEFAULT_BATCH

    def _query(self, request: Request, version: str, session: Session, endpoint: str) -> Response:
        text = request.arg("q")
        if not text or not text.strip():
            return _errors(400, "MALFORMED_QUERY", "A query string has to be specified")
        batch = self._batch_size(request)
        if isinstance(batch, Response):
            return batch
        try:
            result = soql.execute(text, self.org, version, include_deleted=endpoint == "queryAll")
        except soql.SoqlError as exc:
            return _errors(400, exc.error_code, exc.message)
        records = result.records
        end = _page_end(records, 0, batch)
        answer: dict[str, Any] = {"totalSize": result.total_size, "done": end >= len(records)}
        if end < len(records):
            locator = self._open_cursor(
                _Cursor(records, result.total_size, batch, session.identity.username, self.clock())
            )
            answer["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{end}"
        answer["records"] = records[:end]
        return Response.json(answer)

    def _open_cursor(self, cursor: _Cursor) -> str:
        alphabet = string.ascii_letters + string.digits
        locator = "01g" + "".join(secrets.choice(alphabet) for _ in range(15))
        with self._cursor_lock:
            now = self.clock()
            for key in [k for k, c in self._cursors.items() if now - c.touched >= CURSOR_IDLE_S]:
                del self._cursors[key]
            mine = [k for k, c in self._cursors.items() if c.owner == cursor.owner]
            for key in mine[: max(0, len(mine) - CURSORS_PER_USER + 1)]:
                del self._cursors[key]
            while len(self._cursors) >= MAX_CURSORS:
                self._cursors.popitem(last=False)
            self._cursors[locator] = cursor
        return locator

    def _next_page(
        self, request: Request, version: str, session: Session, endpoint: str, locator: str
    ) -> Response:
        match = _LOCATOR.match(locator)
        with self._cursor_lock:
            cursor = self._cursors.get(match.group(1)) if match else None
            now = self.clock()
            if cursor is not None and (
                now - cursor.touched >= CURSOR_IDLE_S or cursor.owner != session.identity.username
            ):
                cursor = None
            if cursor is not None:
                cursor.touched = now
                self._cursors.move_to_end(match.group(1))
        if cursor is None or match is None:
            return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        start = int(match.group(2))
        if start >= len(cursor.records):
            return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        batch = (
            self._batch_size(request) if request.header("sforce-query-options") else cursor.batch
        )
        if isinstance(batch, Response):
            return batch
        end = _page_end(cursor.records, start, batch)
        answer: dict[str, Any] = {
            "totalSize": cursor.total_size,
            "done": end >= len(cursor.records),
        }
        if end < len(cursor.records):
            answer["nextRecordsUrl"] = (
                f"/services/data/v{version}/{endpoint}/{match.group(1)}-{end}"
            )
        answer["records"] = cursor.records[start:end]
        return Response.json(answer)

    # --- sObjects --------------------------------------------------------------------------

    def _sobjects(self, request: Request, version: str, parts: list[str]) -> Response:
        if not parts:
            return Response.json(
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": 200,
                    "sobjects": [describe_summary(d, version) for d in self.org.schema.values()],
                }
            )
        definition = self.org.sobject(parts[0])
        if definition is None:
            return _errors(404, "NOT_FOUND", NOT_FOUND)
        if len(parts) == 1:
            return Response.json(
                {"objectDescribe": describe_summary(definition, version), "recentItems": []}
            )
        if parts[1:] == ["describe"]:
            return Response.json(describe_sobject(request.base_url, definition, version))
        if len(parts) == 2:
            return self._record(request, version, definition, parts[1])
        return _errors(404, "NOT_FOUND", NOT_FOUND)

    def _record(
        self, request: Request, version: str, definition: SObjectDef, record_id: str
    ) -> Response:
        if not _ID.match(record_id):
            return _errors(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {record_id}",
            )
        fields = _field_list(request.arg("fields")) or list(definition.fields)
        bad = next((f for f in fields if not _FIELD.match(f)), None)
        if bad is not None:
            return _errors(
                400, "INVALID_FIELD", f"No such column '{bad}' on sobject of type {definition.name}"
            )
        try:
            result = soql.execute(
                # fields, sObject and id were checked against name/id patterns above
                f"SELECT {', '.join(fields)} FROM {definition.name} WHERE Id = '{record_id}'",  # noqa: S608
                self.org,
                version,
            )
        except soql.SoqlError as exc:
            return _errors(400, exc.error_code, exc.message)
        if not result.records:
            return _errors(404, "NOT_FOUND", NOT_FOUND)
        return Response.json(result.records[0])

    def _collection(self, request: Request, version: str, sobject: str) -> Response:
        definition = self.org.sobject(sobject)
        if definition is None:
            return _errors(404, "NOT_FOUND", NOT_FOUND)
        ids = _field_list(request.arg("ids"))
        fields = _field_list(request.arg("fields"))
        if not ids or not fields:
            missing = "ids" if not ids else "fields"
            return _errors(400, "INVALID_FIELD", f"The '{missing}' parameter is required")
        bad_field = next((f for f in fields if not _FIELD.match(f)), None)
        if bad_field is not None:
            return _errors(
                400,
                "INVALID_FIELD",
                f"No such column '{bad_field}' on sobject of type {definition.name}",
            )
        bad = next((i for i in ids if not _ID.match(i)), None)
        if bad is not None:
            return _errors(400, "MALFORMED_ID", f"invalid record id: {bad}", fields=["Id"])
        quoted = ", ".join(f"'{i}'" for i in ids)
        selected = ", ".join(["Id", *(f for f in fields if f.lower() != "id")])
        try:
            result = soql.execute(
                f"SELECT {selected} FROM {definition.name} WHERE Id IN ({quoted})",  # noqa: S608
                self.org,
                version,
            )
        except soql.SoqlError as exc:
            return _errors(400, exc.error_code, exc.message)
        by_id = {r["Id"][:15]: r for r in result.records}
        return Response.json([by_id.get(i[:15]) for i in ids])

    def _limits(self) -> dict[str, dict[str, int]]:
        used, limit = self.api_usage
        fixed = {
            "ConcurrentAsyncGetReportInstances": 200, "ConcurrentSyncReportRuns": 20,
            "DailyAsyncApexExecutions": 250000, "DailyBulkApiBatches": 15000,
            "DailyBulkV2QueryFileStorageMB": 976562, "DailyBulkV2QueryJobs": 10000,
            "DailyGenericStreamingApiEvents": 10000, "DailyStreamingApiEvents": 10000,
            "DailyWorkflowEmails": 1000, "DataStorageMB": 5, "FileStorageMB": 20,
            "HourlyAsyncReportRuns": 1200, "HourlyDashboardRefreshes": 200,
            "HourlyODataCallout": 10000, "HourlySyncReportRuns": 500, "MassEmail": 10,
            "SingleEmail": 15, "StreamingApiConcurrentClients": 20,
        }  # fmt: skip
        limits = {name: {"Max": value, "Remaining": value} for name, value in fixed.items()}
        limits["DailyApiRequests"] = {"Max": limit, "Remaining": max(0, limit - used)}
        return dict(sorted(limits.items()))


# --- helpers -------------------------------------------------------------------------------


def _field_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _page_end(records: list[dict[str, Any]], start: int, batch: int) -> int:
    """Where a page starting at ``start`` ends: child records count toward the batch size."""
    end, weight = start, 0
    while end < len(records):
        record = records[end]
        size = 1 + sum(
            len(v["records"]) for v in record.values() if isinstance(v, dict) and "records" in v
        )
        if end > start and weight + size > batch:
            break
        weight += size
        end += 1
    return end
