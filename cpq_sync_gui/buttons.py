"""The "Send to Zuora" buttons in Salesforce: are they there and right, what to deploy, what is left to do by hand."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

import requests
import zeep.exceptions
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from cpq_sync_gui.redact import redact
from cpq_sync_gui.salesforce.session import SalesforceLoginError
from cpq_sync_gui.settings import Profile

if TYPE_CHECKING:
    from simple_salesforce import Salesforce
    from simple_salesforce.metadata import SfdcMetadataApi

    from cpq_sync_gui.salesforce.client import SalesforceClient
    from cpq_sync_gui.salesforce.session import SalesforceConnection

__all__ = [
    "DEFAULT_LABEL",
    "WEBLINK_SOQL",
    "ButtonSpec",
    "ButtonState",
    "ButtonStatus",
    "ButtonsError",
    "DeployResult",
    "Difference",
    "WebLinkChange",
    "button_status",
    "configure_metadata_session",
    "deploy",
    "deployment_plan",
    "expected_buttons",
    "layout_instructions",
    "metadata_api",
    "plan_text",
    "sfdc_domain_for",
    "status_text",
    "support_ticket_text",
]

T = TypeVar("T")

DEFAULT_LABEL = "Send to Zuora"
DEFAULT_HEIGHT = 600  # the Metadata API wants a height with openType newWindow
DEFAULT_DESCRIPTION = (
    "Sends this record to Zuora Billing through Zuora's Billing Connector for Salesforce CPQ "
    "(created by CPQ Sync)."
)
METADATA_TIMEOUT_S = (10.0, 120.0)  # only when the session is not a profile session

# The one query that finds both buttons (reference/salesforce.md §4, plus the fields an update
# must carry over so it does not reset them).
WEBLINK_SOQL = (
    "SELECT Id, Name, MasterLabel, PageOrSobjectType, DisplayType, LinkType, OpenType, Url, "
    "NamespacePrefix, Description, Height, EncodingKey FROM WebLink "
    "WHERE PageOrSobjectType IN ('Account','Order') "
    "AND Name IN ('send_to_zuora_account','send_to_zuora_order')"
)

# What Salesforce calls each value on the "Custom Button or Link Edit" page. DisplayType can
# come back as the API name or as a one-letter code (B/L/M) depending on the API version.
_DISPLAY_TYPES = {
    "button": "button",
    "b": "button",
    "link": "link",
    "l": "link",
    "massactionbutton": "massActionButton",
    "massaction": "massActionButton",
    "m": "massActionButton",
}
DISPLAY_TYPE_LABELS = {
    "button": "Detail Page Button",
    "link": "Detail Page Link",
    "massActionButton": "List Button",
}
OPEN_TYPE_LABELS = {
    "newWindow": "Display in new window",
    "sidebar": "Display in existing window with sidebar",
    "noSidebar": "Display in existing window without sidebar",
    "replace": "Display in existing window without sidebar or header",
    "onClickJavaScript": "Execute JavaScript",
}
LINK_TYPE_LABELS = {
    "url": "URL",
    "sControl": "Custom S-Control",
    "javascript": "OnClick JavaScript",
    "page": "Visualforce Page",
    "flow": "Flow",
}


class ButtonsError(Exception):
    """Something about the buttons that cannot be done as asked, in plain words."""

    def __init__(self, message: str) -> None:
        self.message = redact(message)
        super().__init__(self.message)


# --- what the buttons should be --------------------------------------------------------------


@dataclass(frozen=True)
class ButtonSpec:
    """One "Send to Zuora" button as Zuora's connector documentation describes it."""

    sobject: str  # Account / Order
    name: str  # send_to_zuora_account
    id_parameter: str  # accountId
    merge_field: str  # {!Account.Id}
    endpoint: str  # the connector address, https://…/sfdccpq
    sfdc_domain: str  # the org's Lightning host, without https://
    label: str = DEFAULT_LABEL

    @property
    def full_name(self) -> str:
        return f"{self.sobject}.{self.name}"

    @property
    def url(self) -> str:
        return f"{self.endpoint}?sfdc={self.sfdc_domain}&{self.id_parameter}={self.merge_field}"


def sfdc_domain_for(profile: Profile, instance_url: str | None = None) -> str:
    """The ``sfdc=`` value: the profile's setting, else the Lightning host of the org."""
    from cpq_sync_gui.connections import connector_domain

    domain = connector_domain(profile, instance_url)
    if not domain:
        raise ButtonsError(
            "CPQ Sync does not know this org's Salesforce domain yet. Connect to Salesforce "
            "once, or enter it in the profile (Connector → Salesforce domain), like "
            "acme.lightning.force.com."
        )
    return domain


def expected_buttons(profile: Profile, instance_url: str | None = None) -> list[ButtonSpec]:
    """The Account and Order buttons this profile's org should have."""
    domain = sfdc_domain_for(profile, instance_url)
    endpoint = profile.connector.endpoint_url
    return [
        ButtonSpec(
            "Account", "send_to_zuora_account", "accountId", "{!Account.Id}", endpoint, domain
        ),
        ButtonSpec("Order", "send_to_zuora_order", "orderId", "{!Order.Id}", endpoint, domain),
    ]


# --- what is there ---------------------------------------------------------------------------


class ButtonState(StrEnum):
    MISSING = "Missing"
    OK = "OK"
    MISCONFIGURED = "Misconfigured"


@dataclass(frozen=True)
class Difference:
    """One way an existing button differs from what the connector needs."""

    setting: str  # as Salesforce's button edit page names it: "Display Type", "Button URL"…
    problem: str  # "wrong domain", "not a detail-page button"…
    actual: str
    expected: str

    @property
    def text(self) -> str:
        return f"{self.problem}: is {self.actual}, should be {self.expected}"


@dataclass(frozen=True)
class ButtonStatus:
    spec: ButtonSpec
    state: ButtonState
    record: dict[str, Any] | None = None  # the WebLink record found (no "attributes")
    differences: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()  # worth knowing, but not wrong (another label, …)

    @property
    def summary(self) -> str:
        if self.state == ButtonState.MISSING:
            return f"Missing: there is no {self.spec.sobject} button named {self.spec.name}."
        if self.state == ButtonState.OK:
            return "OK"
        return "Misconfigured: " + "; ".join(d.text for d in self.differences)

    @property
    def current_url(self) -> str | None:
        return (self.record or {}).get("Url")

    def as_json(self) -> dict[str, Any]:
        return {
            "object": self.spec.sobject,
            "name": self.spec.name,
            "full_name": self.spec.full_name,
            "state": self.state.value,
            "url": self.current_url,
            "expected_url": self.spec.url,
            "differences": [
                {
                    "setting": d.setting,
                    "problem": d.problem,
                    "actual": d.actual,
                    "expected": d.expected,
                }
                for d in self.differences
            ],
            "notes": list(self.notes),
        }


def normalise_display_type(value: object) -> str:
    text = str(value or "")
    return _DISPLAY_TYPES.get(text.strip().lower(), text)


def _label(labels: dict[str, str], value: object) -> str:
    text = str(value or "")
    if not text:
        return "(not set)"
    return f"'{labels[text]}'" if text in labels else f"'{text}'"


def _domain(value: str) -> str:
    return value.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")


def _endpoint(value: str) -> str:
    parts = urlsplit(value.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _merge_field(value: str) -> str:
    return re.sub(r"\s+", "", value).lower()


def _query_parameters(query: str) -> list[tuple[str, str | None]]:
    # No URL-decoding: the merge field {!Account.Id} must be compared as Salesforce stores it.
    pairs: list[tuple[str, str | None]] = []
    for part in query.split("&"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        pairs.append((key, value if sep else None))
    return pairs


def url_differences(spec: ButtonSpec, url: str | None) -> list[Difference]:
    """How ``url`` differs from the button URL the connector needs, part by part."""
    setting = "Button URL"
    actual_url = (url or "").strip()
    if not actual_url:
        return [Difference(setting, "no URL", "empty", spec.url)]
    base, _, query = actual_url.partition("?")
    found: list[Difference] = []
    if _endpoint(base) != _endpoint(spec.endpoint):
        found.append(Difference(setting, "wrong connector address", base, spec.endpoint))
    parameters = _query_parameters(query)
    by_key: dict[str, list[str | None]] = {}
    for key, value in parameters:
        by_key.setdefault(key, []).append(value)

    domains = by_key.pop("sfdc", [])
    if not domains:
        found.append(
            Difference(setting, "wrong domain", "not sent (no sfdc=)", f"sfdc={spec.sfdc_domain}")
        )
    elif len(domains) > 1:
        sent = ", ".join(f"sfdc={d}" for d in domains)
        found.append(
            Difference(setting, "wrong domain", f"sent twice ({sent})", f"sfdc={spec.sfdc_domain}")
        )
    elif _domain(domains[0] or "") != _domain(spec.sfdc_domain) or (
        domains[0] or ""
    ).lower().startswith("http"):
        found.append(
            Difference(
                setting, "wrong domain", f"sfdc={domains[0] or ''}", f"sfdc={spec.sfdc_domain}"
            )
        )

    expected_pair = f"{spec.id_parameter}={spec.merge_field}"
    ids = by_key.pop(spec.id_parameter, [])
    if len(ids) == 1 and _merge_field(ids[0] or "") == _merge_field(spec.merge_field):
        pass
    elif ids:
        sent = ", ".join(f"{spec.id_parameter}={v or ''}" for v in ids)
        found.append(Difference(setting, "wrong merge field", sent, expected_pair))
    else:
        # The id may be sent under another name (orderId on the Account button, accountid, …).
        other = [
            f"{key}={value or ''}"
            for key, values in by_key.items()
            for value in values
            if value and "{!" in value
        ]
        actual = ", ".join(other) if other else f"not sent (no {spec.id_parameter}=)"
        found.append(Difference(setting, "wrong merge field", actual, expected_pair))
        by_key = {k: v for k, v in by_key.items() if not any(x and "{!" in x for x in v)}
    extra = [
        f"{key}={value}" if value is not None else key
        for key, values in by_key.items()
        for value in values
    ]
    if extra:
        found.append(
            Difference(
                setting,
                "unexpected parameters in the URL",
                "&".join(extra),
                f"only sfdc and {spec.id_parameter}",
            )
        )
    return found


def compare(spec: ButtonSpec, record: dict[str, Any]) -> ButtonStatus:
    """The state of an existing WebLink record against ``spec``."""
    clean = {k: v for k, v in record.items() if k != "attributes"}
    differences: list[Difference] = []
    display = normalise_display_type(clean.get("DisplayType"))
    if display != "button":
        differences.append(
            Difference(
                "Display Type",
                "not a detail-page button",
                _label(DISPLAY_TYPE_LABELS, display),
                "'Detail Page Button'",
            )
        )
    open_type = str(clean.get("OpenType") or "")
    if open_type != "newWindow":
        differences.append(
            Difference(
                "Behavior",
                "does not open in a new window",
                _label(OPEN_TYPE_LABELS, open_type),
                "'Display in new window'",
            )
        )
    link_type = str(clean.get("LinkType") or "")
    if link_type != "url":
        differences.append(
            Difference(
                "Content Source",
                "link type is not URL",
                _label(LINK_TYPE_LABELS, link_type),
                "'URL'",
            )
        )
    differences += url_differences(spec, clean.get("Url"))
    notes = []
    label = clean.get("MasterLabel")
    if label and label != spec.label:
        notes.append(
            f"Its label is '{label}' (Zuora's instructions say '{spec.label}'); CPQ Sync keeps it."
        )
    state = ButtonState.MISCONFIGURED if differences else ButtonState.OK
    return ButtonStatus(spec, state, clean, tuple(differences), tuple(notes))


def statuses_from_records(
    specs: Sequence[ButtonSpec], records: Sequence[dict[str, Any]]
) -> list[ButtonStatus]:
    """Match WebLink records to the expected buttons (names are case-insensitive in Salesforce)."""
    statuses = []
    for spec in specs:
        matching = [
            r
            for r in records
            if str(r.get("PageOrSobjectType") or "").lower() == spec.sobject.lower()
            and str(r.get("Name") or "").lower() == spec.name.lower()
        ]
        # A managed package may ship a button of the same name in its own namespace; it is not
        # the one the admin creates (and CPQ Sync cannot change it).
        own = [r for r in matching if not r.get("NamespacePrefix")]
        packaged = [r for r in matching if r.get("NamespacePrefix")]
        status = compare(spec, own[0]) if own else ButtonStatus(spec, ButtonState.MISSING)
        if packaged:
            prefixes = ", ".join(sorted({str(r["NamespacePrefix"]) for r in packaged}))
            note = (
                f"A button of the same name from the installed package {prefixes} exists; it "
                "is not checked or changed here."
            )
            status = ButtonStatus(
                status.spec, status.state, status.record, status.differences, (*status.notes, note)
            )
        statuses.append(status)
    return statuses


def button_status(salesforce_client: SalesforceClient, profile: Profile) -> list[ButtonStatus]:
    """Both buttons' state from ONE WebLink query (raises SalesforceQueryError in plain words)."""
    specs = expected_buttons(profile, salesforce_client.connection.instance_url)
    records = salesforce_client.query_all(WEBLINK_SOQL)
    return statuses_from_records(specs, records)


def status_text(statuses: Sequence[ButtonStatus]) -> str:
    """The states as lines a person reads (the CLI's ``buttons status``)."""
    lines = []
    for status in statuses:
        head = f"{status.spec.sobject} button {status.spec.name}: {status.state.value}"
        lines.append(head)
        if status.state == ButtonState.MISSING:
            lines.append(f"  should open: {status.spec.url}")
        for difference in status.differences:
            lines.append(f"  - {difference.text}")
        for note in status.notes:
            lines.append(f"  note: {note}")
    return "\n".join(lines)


# --- what will be deployed -------------------------------------------------------------------


@dataclass(frozen=True)
class WebLinkChange:
    """One Metadata API call for one button: every field that will be sent."""

    action: Literal["create", "update"]
    spec: ButtonSpec
    fields: tuple[tuple[str, Any], ...]  # Metadata API WebLink fields, in the order shown
    current: dict[str, Any] = field(default_factory=dict)  # update: the values now in Salesforce
    reasons: tuple[str, ...] = ()

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.fields)

    def describe(self) -> str:
        verb = "Create" if self.action == "create" else "Update"
        lines = [f"{verb} the {self.spec.sobject} button {self.spec.full_name}:"]
        for reason in self.reasons:
            lines.append(f"  because: {reason}")
        for name, value in self.fields:
            shown = _shown(value)
            if self.action == "update" and name in self.current:
                before = _shown(self.current[name])
                if before != shown:
                    lines.append(f"  {name}: {before} → {shown}")
                    continue
            lines.append(f"  {name}: {shown}")
        if self.action == "update":
            lines.append(
                "  (an update replaces the whole button definition with these fields; the "
                "label, description and window height are kept)"
            )
        return "\n".join(lines)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "(empty)" if value in (None, "") else str(value)


# WebLink sObject field → Metadata API field, for what the query found.
_CURRENT = {
    "MasterLabel": "masterLabel",
    "Description": "description",
    "DisplayType": "displayType",
    "LinkType": "linkType",
    "OpenType": "openType",
    "Url": "url",
    "Height": "height",
    "EncodingKey": "encodingKey",
}


def _fields_for(spec: ButtonSpec, record: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    record = record or {}
    label = record.get("MasterLabel") or spec.label
    description = record.get("Description") if record else DEFAULT_DESCRIPTION
    height = record.get("Height") or DEFAULT_HEIGHT
    fields: list[tuple[str, Any]] = [
        ("fullName", spec.full_name),
        ("masterLabel", label),
    ]
    if description:
        fields.append(("description", description))
    fields += [
        ("availability", "online"),
        ("displayType", "button"),
        ("linkType", "url"),
        ("openType", "newWindow"),
        ("url", spec.url),
        ("encodingKey", "UTF-8"),
        ("height", int(height)),
        ("position", "none"),
        ("hasMenubar", True),
        ("hasScrollbars", True),
        ("hasToolbar", True),
        ("isResizable", True),
        ("showsLocation", True),
        ("showsStatus", True),
        ("protected", False),
    ]
    return tuple(fields)


def deployment_plan(statuses: Sequence[ButtonStatus]) -> list[WebLinkChange]:
    """Exactly what "Create / fix buttons" will send: a create per missing button, an update per misconfigured one."""
    plan = []
    for status in statuses:
        if status.state == ButtonState.OK:
            continue
        if status.state == ButtonState.MISSING:
            plan.append(
                WebLinkChange(
                    "create",
                    status.spec,
                    _fields_for(status.spec, None),
                    reasons=(status.summary,),
                )
            )
            continue
        record = status.record or {}
        current = {
            meta: (normalise_display_type(record[name]) if name == "DisplayType" else record[name])
            for name, meta in _CURRENT.items()
            if name in record
        }
        plan.append(
            WebLinkChange(
                "update",
                status.spec,
                _fields_for(status.spec, record),
                current=current,
                reasons=tuple(d.text for d in status.differences),
            )
        )
    return plan


def plan_text(plan: Sequence[WebLinkChange]) -> str:
    if not plan:
        return "Nothing to deploy: both buttons are OK."
    return "\n\n".join(change.describe() for change in plan)


# --- deploying through the Metadata API ------------------------------------------------------


def configure_metadata_session(mdapi: SfdcMetadataApi, session: requests.Session) -> None:
    """Make the Metadata API use the profile's CA bundle, proxy and timeouts.

    simple-salesforce's ``sf.mdapi`` talks SOAP through zeep, and zeep has its OWN
    ``requests.Session`` (``mdapi._client.transport.session``): the profile session given to
    simple-salesforce never reaches it, and with ``REQUESTS_CA_BUNDLE`` set that variable would
    decide whom it trusts (reference/salesforce.md §1). This is the only place that touches
    those private attributes; tests/integration/test_buttons.py fails if simple-salesforce or
    zeep move them (then this raises instead of sending anything unverified).
    """
    from cpq_sync_gui.net import ProfileSession, system_proxies_for
    from cpq_sync_gui.settings import ProxyMode

    try:
        transport = mdapi._client.transport
        zeep_session = transport.session
    except AttributeError:
        zeep_session = None
    if not isinstance(zeep_session, requests.Session):
        raise ButtonsError(
            "This version of simple-salesforce keeps the Metadata API connection where CPQ "
            "Sync cannot apply the profile's CA bundle and proxy, so CPQ Sync will not deploy "
            "the buttons with it. Create them by hand (Setup → Object Manager → Account / Order "
            "→ Buttons, Links, and Actions) or reinstall CPQ Sync."
        )
    verify = session.verify
    if not verify:  # requests treats None like False
        raise ButtonsError(
            "CPQ Sync never turns off certificate checks; choose a CA bundle instead."
        )
    zeep_session.trust_env = False  # REQUESTS_CA_BUNDLE / *_proxy must not override the profile
    zeep_session.verify = verify
    zeep_session.cert = session.cert
    proxies = dict(session.proxies)
    if isinstance(session, ProfileSession):
        transport.operation_timeout = session.timeouts.as_tuple()
        if session.proxy_mode == ProxyMode.SYSTEM and not proxies:
            proxies = system_proxies_for(mdapi.metadata_url)
    else:
        transport.operation_timeout = METADATA_TIMEOUT_S
    zeep_session.proxies = proxies
    zeep_session.hooks["response"] = list(session.hooks.get("response", []))  # proxy 407s


def metadata_api(sf: Salesforce, session: requests.Session) -> SfdcMetadataApi:
    """``sf.mdapi`` on the profile's network settings (see :func:`configure_metadata_session`)."""
    mdapi = sf.mdapi
    configure_metadata_session(mdapi, session)
    return mdapi


@dataclass(frozen=True)
class DeployResult:
    change: WebLinkChange
    ok: bool
    message: str

    @property
    def text(self) -> str:
        mark = "done" if self.ok else "FAILED"
        return f"{self.change.spec.full_name} ({self.change.action}): {mark} — {self.message}"


def _fault_code(fault: zeep.exceptions.Fault) -> str:
    return str(fault.code or "").rpartition(":")[2]


_PERMISSION_HINT = (
    " The Salesforce user needs the 'Modify Metadata Through Metadata API Functions' (or "
    "'Modify All Data') permission; ask a Salesforce admin, or create the buttons by hand "
    "with the values shown."
)


def _message(exc: BaseException, change: WebLinkChange) -> str:
    """Salesforce's own words for a failed deploy, plus what to do where that is clear."""
    what = f"{change.action} the {change.spec.sobject} button {change.spec.name}"
    if isinstance(exc, zeep.exceptions.Fault):
        code = _fault_code(exc)
        said = " ".join(str(exc.message or "").split())
        text = f"Salesforce refused to {what}: {said}"
        if code and code not in said:
            text += f" ({code})"
        if code == "INSUFFICIENT_ACCESS":
            text += _PERMISSION_HINT
        elif code == "INVALID_SESSION_ID":
            text += " Log in to Salesforce again (the session has ended)."
        return redact(text)
    if isinstance(exc, requests.RequestException):
        from cpq_sync_gui.net import describe_network_error

        return f"Could not {what}: {describe_network_error(exc)}"
    if isinstance(exc, SalesforceExpiredSession):
        return redact(
            f"Could not {what}: Salesforce ended the session again right after CPQ Sync logged "
            "in again (INVALID_SESSION_ID). Check the session settings of the org, then try again."
        )
    if isinstance(exc, zeep.exceptions.Error):
        return redact(f"Could not {what}: the Metadata API answered unexpectedly ({exc}).")
    if isinstance(exc, (ButtonsError, SalesforceLoginError)):  # already plain words
        return f"Could not {what}: {exc.message}"
    # simple-salesforce raises a plain Exception "\nAccount.x: (CODE, message), " per failure.
    errors = re.findall(r"\((\w+), (.*?)\),", str(exc), flags=re.S)
    if errors:
        said = "; ".join(f"{message.strip()} ({code})" for code, message in errors)
        return redact(f"Salesforce refused to {what}: {said}")
    return redact(f"Could not {what}: {' '.join(str(exc).split()) or type(exc).__name__}")


def _with_metadata_api(connection: SalesforceConnection, fn: Callable[[SfdcMetadataApi], T]) -> T:
    """``fn(mdapi)``; a Metadata API INVALID_SESSION_ID logs in again once (like REST calls)."""

    def call(sf: Salesforce) -> T:
        mdapi = metadata_api(sf, connection.session)
        try:
            return fn(mdapi)
        except zeep.exceptions.Fault as fault:
            if _fault_code(fault) == "INVALID_SESSION_ID" and connection.can_relogin:
                raise SalesforceExpiredSession(
                    mdapi.metadata_url, 500, "WebLink", str(fault.message).encode()
                ) from fault
            raise

    return connection.call_with_relogin(call)


def deploy(connection: SalesforceConnection, plan: Sequence[WebLinkChange]) -> list[DeployResult]:
    """Send each change (``WebLink.create`` / ``WebLink.update``); one result per change.

    A failure that no later change can escape (no permission, network, session) stops the
    deploy; the remaining changes are reported as not tried.
    """
    results: list[DeployResult] = []
    stop: str | None = None
    for change in plan:
        if stop is not None:
            results.append(DeployResult(change, False, stop))
            continue

        def send(mdapi: SfdcMetadataApi, change: WebLinkChange = change) -> None:
            component = mdapi.WebLink(**change.metadata)
            if change.action == "create":
                mdapi.WebLink.create([component])
            else:
                mdapi.WebLink.update([component])

        try:
            _with_metadata_api(connection, send)
        except (
            zeep.exceptions.Error,
            requests.RequestException,
            SalesforceError,
            SalesforceLoginError,
            ButtonsError,
        ) as exc:
            message = _message(exc, change)
            results.append(DeployResult(change, False, message))
            stop = "not tried, because the change before it failed (see above)"
        except Exception as exc:  # simple-salesforce's plain Exception for a refused component
            if type(exc) is not Exception:
                raise
            results.append(DeployResult(change, False, _message(exc, change)))
        else:
            verb = "created" if change.action == "create" else "updated"
            results.append(DeployResult(change, True, f"{verb} in Salesforce"))
    return results


# --- what is left for the admin ------------------------------------------------------------


def support_ticket_text(profile: Profile, statuses: Sequence[ButtonStatus]) -> str:
    """A Zuora support ticket asking to route the button URLs, ready to paste."""
    specs = [status.spec for status in statuses] or expected_buttons(profile)
    domain = specs[0].sfdc_domain
    zuora = profile.zuora
    tenant = zuora.environment_label
    if zuora.entity_id:
        tenant += f", entity {zuora.entity_id}"
    lines = [
        'Subject: Please route our Salesforce CPQ "Send to Zuora" buttons '
        "(Billing Connector for Salesforce CPQ)",
        "",
        "Hello Zuora Support,",
        "",
        'We have configured the "Send to Zuora" buttons of the Billing Connector for '
        "Salesforce CPQ in our Salesforce org. Please route the button URLs below to our Zuora "
        "tenant.",
        "",
        f"Salesforce CPQ domain (sfdc): {domain}",
        f"Zuora tenant: {tenant}",
        "",
        "Button URLs:",
    ]
    for spec in specs:
        lines.append(f"- {spec.sobject} ({spec.name}): {spec.url}")
    lines += [
        "",
        "Please route requests with sfdc=" + domain + " to the Zuora tenant above, and tell "
        "us when the routing is in place.",
        "",
        "Thank you.",
    ]
    return "\n".join(lines)


def layout_instructions() -> str:
    """How to put the buttons on the page layouts — by hand, on purpose (docs/buttons.md)."""
    return (
        "Creating a button does not show it on any record page: add it to each page layout "
        "your users use. CPQ Sync does not change page layouts itself, because a page layout "
        "can only be saved whole: writing one back could undo changes another admin makes at "
        "the same time, or drop settings this version of the Metadata API does not know.\n"
        "\n"
        "For Accounts:\n"
        "1. Setup > Object Manager > Account > Page Layouts > <layout> (e.g. Account Layout).\n"
        "2. In the palette at the top, choose Buttons.\n"
        '3. Drag "Send to Zuora" into the Custom Buttons box of the Button section.\n'
        "4. Lightning Experience: if the layout's \"Salesforce Mobile and Lightning Experience "
        'Actions" section has been customized, also choose Mobile & Lightning Actions in the '
        'palette and drag "Send to Zuora" into that section.\n'
        "5. Save. Repeat for every Account page layout in use.\n"
        "\n"
        "For Orders: the same steps under Setup > Object Manager > Order > Page Layouts.\n"
        "\n"
        "If a Lightning record page uses Dynamic Actions, add the button in the Lightning App "
        "Builder (the page's Highlights Panel > Add Action) instead."
    )
