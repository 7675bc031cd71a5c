"""Sandbox org metadata: REST describe answers, and the Metadata API (SOAP) for WebLink buttons."""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lxml import etree

from cpq_sync_gui.sandbox.http import Request, Response
from cpq_sync_gui.sandbox.org import OrgStore, Record
from cpq_sync_gui.sandbox.schema import FieldDef, SObjectDef

if TYPE_CHECKING:
    from cpq_sync_gui.sandbox.salesforce_auth import Session

MD_NS = "http://soap.sforce.com/2006/04/metadata"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
NO_METADATA_PERMISSION = (
    "use of the Metadata API requires a user with the ModifyAllData or ModifyMetadata permissions"
)
BAD_NAME = (
    "The Name field can only contain underscores and alphanumeric characters. It must be unique, "
    "begin with a letter, not include spaces, not end with an underscore, and not contain two "
    "consecutive underscores."
)
_NAME = re.compile(r"^[A-Za-z](?!.*__)[A-Za-z0-9_]*(?<!_)$")

# WebLink metadata elements in WSDL order, with their XSD type and WebLink sObject field.
WEBLINK_FIELDS: tuple[tuple[str, str, str | None], ...] = (
    ("availability", "string", None),
    ("description", "string", "Description"),
    ("displayType", "string", "DisplayType"),
    ("encodingKey", "string", "EncodingKey"),
    ("hasMenubar", "boolean", None),
    ("hasScrollbars", "boolean", "HasScrollbars"),
    ("hasToolbar", "boolean", None),
    ("height", "int", "Height"),
    ("isResizable", "boolean", "IsResizable"),
    ("linkType", "string", "LinkType"),
    ("masterLabel", "string", "MasterLabel"),
    ("openType", "string", "OpenType"),
    ("page", "string", None),
    ("position", "string", "Position"),
    ("protected", "boolean", None),
    ("requireRowSelection", "boolean", "RequireRowSelection"),
    ("scontrol", "string", None),
    ("showsLocation", "boolean", None),
    ("showsStatus", "boolean", None),
    ("url", "string", "Url"),
    ("width", "int", "Width"),
)
_KINDS = {name: kind for name, kind, _ in WEBLINK_FIELDS}
_REQUIRED = ("availability", "displayType", "linkType", "masterLabel", "openType", "protected")
_CHOICES = {
    "availability": ("online", "offline"),
    "displayType": ("link", "button", "massActionButton"),
    "linkType": ("url", "sControl", "javascript", "page", "flow"),
    "openType": ("newWindow", "sidebar", "noSidebar", "replace", "onClickJavaScript"),
    "position": ("fullScreen", "none", "topLeft"),
}
_DEFAULTS = {"encodingKey": "UTF-8", "hasScrollbars": True, "isResizable": True}
Error = tuple[str, str]  # (statusCode, message)


# --- XML ---------------------------------------------------------------------------------

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
)


def parse_xml(body: bytes) -> etree._Element:
    """Parse a SOAP request without entity expansion or network access; ValueError if malformed."""
    try:
        return etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(str(exc)) from None


def local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def find_local(root: etree._Element, name: str) -> etree._Element | None:
    """The first descendant (or root) whose local name is ``name``, whatever its namespace."""
    return next((el for el in root.iter() if local(el.tag) == name), None)


def child_text(parent: etree._Element, name: str) -> str | None:
    for child in parent:
        if local(child.tag) == name:
            return child.text or ""
    return None


def xml_escape(text: str) -> str:
    return html.escape(text, quote=False)


# --- Metadata API -------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _envelope(inner: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns="{MD_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<soapenv:Body>{inner}</soapenv:Body></soapenv:Envelope>"
    )


def metadata_fault(code: str, message: str) -> Response:
    """A Metadata API SOAP fault (HTTP 500), as for INVALID_SESSION_ID or INSUFFICIENT_ACCESS."""
    text = xml_escape(f"{code}: {message}")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:sf="{MD_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode>"
        f"<faultstring>{text}</faultstring><detail>"
        '<sf:UnexpectedErrorFault xsi:type="sf:UnexpectedErrorFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{xml_escape(message)}</sf:exceptionMessage>"
        "</sf:UnexpectedErrorFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response.text(body, 500, "text/xml; charset=utf-8")


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return xml_escape(str(value))


def _parse_value(kind: str, text: str) -> Any:
    if kind == "boolean":
        return text.strip().lower() == "true"
    if kind == "int":
        try:
            return int(text.strip())
        except ValueError:
            return None
    return text


class MetadataApi:
    """Metadata API calls on WebLink components; WebLink records in the org are the store."""

    def __init__(
        self,
        org: OrgStore,
        authenticate: Callable[[str | None], Session | None],
        consume_api_call: Callable[[], bool],
    ) -> None:
        self.org = org
        self._authenticate = authenticate
        self._consume = consume_api_call
        self._lock = threading.RLock()
        self._extras: dict[str, dict[str, Any]] = {}  # record id -> elements with no sObject field
        self._denied: set[str] = set()

    def deny_for(self, username: str) -> None:
        """Simulate a user without Customize Application / Modify Metadata permission."""
        with self._lock:
            self._denied.add(username.lower())

    def allow_for(self, username: str) -> None:
        with self._lock:
            self._denied.discard(username.lower())

    # --- entry point -----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            root = parse_xml(request.body)
        except ValueError as exc:
            return metadata_fault("INVALID_XML", f"The request is not valid XML: {exc}")
        header = find_local(root, "SessionHeader")
        token = child_text(header, "sessionId") if header is not None else None
        session = self._authenticate(token)
        if session is None:
            return metadata_fault(
                "INVALID_SESSION_ID",
                "Invalid Session ID found in SessionHeader: Illegal Session",
            )
        if not self._consume():
            return metadata_fault("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        with self._lock:
            denied = session.identity.username.lower() in self._denied
        if denied:
            return metadata_fault("INSUFFICIENT_ACCESS", NO_METADATA_PERMISSION)
        body = find_local(root, "Body")
        operation = (
            next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
        )
        name = local(operation.tag) if operation is not None else ""
        if operation is None or name not in (
            "createMetadata",
            "updateMetadata",
            "upsertMetadata",
            "readMetadata",
            "deleteMetadata",
        ):
            return metadata_fault(
                "INVALID_OPERATION", f"The sandbox does not simulate the {name or '(empty)'} call"
            )
        if name == "readMetadata":
            return self._read(operation)
        if name == "deleteMetadata":
            return self._delete(operation)
        items = [c for c in operation if isinstance(c.tag, str) and local(c.tag) == "metadata"]
        results = []
        with self._lock:  # check-then-write must not race another thread's create
            for item in items:
                results.append(self._save(name, item, session))
        inner = "".join(results)
        return Response.text(
            _envelope(f"<{name}Response>{inner}</{name}Response>"), 200, "text/xml; charset=utf-8"
        )

    # --- create / update / upsert ----------------------------------------------------------

    def _find(self, sobject: str, name: str) -> Record | None:
        matches = self.org.where(
            "WebLink",
            lambda r: (
                str(r.get("PageOrSobjectType", "")).lower() == sobject.lower()
                and str(r.get("Name", "")).lower() == name.lower()
            ),
        )
        return matches[0] if matches else None

    def _save(self, operation: str, item: etree._Element, session: Session) -> str:
        xsi_type = (item.get(XSI_TYPE) or "").rpartition(":")[2]
        values: dict[str, Any] = {}
        for child in item:
            if isinstance(child.tag, str):
                key = local(child.tag)
                text = child.text or ""
                values[key] = (
                    text if key == "fullName" else _parse_value(_KINDS.get(key, "string"), text)
                )
        full_name = str(values.pop("fullName", "") or "")
        created = False
        error = self._validate(xsi_type, full_name, values)
        if error is None:
            sobject, _, name = full_name.partition(".")
            existing = self._find(sobject, name)
            if operation == "createMetadata" and existing is not None:
                error = (
                    "DUPLICATE_DEVELOPER_NAME",
                    f"There is already a Custom Button or Link named {name} on "
                    f"{existing['PageOrSobjectType']}.",
                )
            elif operation == "updateMetadata" and existing is None:
                error = (
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"In field: fullName - no WebLink named {full_name} found",
                )
            else:
                created = existing is None
                self._write(sobject, name, values, existing, session)
        parts = []
        if operation == "upsertMetadata":
            parts.append(f"<created>{'true' if created else 'false'}</created>")
        if error is not None:
            parts.append(
                f"<errors><message>{xml_escape(error[1])}</message>"
                f"<statusCode>{error[0]}</statusCode></errors>"
            )
        parts.append(f"<fullName>{xml_escape(full_name)}</fullName>")
        parts.append(f"<success>{'false' if error else 'true'}</success>")
        return f"<result>{''.join(parts)}</result>"

    def _validate(self, xsi_type: str, full_name: str, values: dict[str, Any]) -> Error | None:
        if xsi_type != "WebLink":
            return (
                "INVALID_TYPE",
                f"The sandbox simulates only WebLink metadata, not {xsi_type or 'an untyped component'}",
            )
        sobject, dot, name = full_name.partition(".")
        if not dot or not sobject or not name:
            return (
                "INVALID_CROSS_REFERENCE_KEY",
                f"In field: fullName - no CustomObject named {sobject or full_name} found",
            )
        if self.org.sobject(sobject) is None:
            return (
                "INVALID_CROSS_REFERENCE_KEY",
                f"In field: fullName - no CustomObject named {sobject} found",
            )
        if not _NAME.match(name):
            return ("FIELD_INTEGRITY_EXCEPTION", BAD_NAME)
        for required in _REQUIRED:
            if values.get(required) in (None, ""):
                return ("REQUIRED_FIELD_MISSING", f"Required field is missing: {required}")
        for key, allowed in _CHOICES.items():
            value = values.get(key)
            if value not in (None, "") and value not in allowed:
                return (
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"{key}: bad value for restricted picklist field: {value}",
                )
        if values.get("linkType") == "url" and not values.get("url"):
            return ("REQUIRED_FIELD_MISSING", "Required field is missing: url")
        return None

    def _write(
        self,
        sobject: str,
        name: str,
        values: dict[str, Any],
        existing: Record | None,
        session: Session,
    ) -> None:
        definition = self.org.sobject("WebLink")
        assert definition is not None
        canonical = self.org.sobject(sobject)
        assert canonical is not None
        merged = {**_DEFAULTS, **values}
        fields: Record = {}
        extras: dict[str, Any] = {}
        for key, _kind, sobject_field in WEBLINK_FIELDS:
            value = merged.get(key)
            if sobject_field and definition.field_named(sobject_field):
                fields[sobject_field] = value
            elif value is not None:
                extras[key] = value
        now = _now()
        user_id = session.identity.user_id
        fields.update({"LastModifiedDate": now, "LastModifiedById": user_id, "SystemModstamp": now})
        if existing is None:
            fields.update(
                {
                    "PageOrSobjectType": canonical.name,
                    "Name": name,
                    "NamespacePrefix": None,
                    "CreatedDate": now,
                    "CreatedById": user_id,
                }
            )
            record_id = self.org.insert("WebLink", fields)
        else:
            record_id = existing["Id"]
            self.org.update("WebLink", record_id, fields)  # update replaces the whole component
        self._extras[record_id] = extras

    # --- read / delete ---------------------------------------------------------------------

    def _names(self, operation: etree._Element) -> tuple[str, list[str]]:
        kind = child_text(operation, "type") or ""
        names = [
            c.text or ""
            for c in operation
            if isinstance(c.tag, str) and local(c.tag) == "fullNames"
        ]
        return kind, names

    def _read(self, operation: etree._Element) -> Response:
        kind, names = self._names(operation)
        records = []
        with self._lock:
            for full_name in names if kind == "WebLink" else []:
                sobject, _, name = full_name.partition(".")
                record = self._find(sobject, name)
                # A name that matches nothing still answers a (nil) record, not an error.
                records.append(
                    '<records xsi:nil="true"/>' if record is None else self._render(record)
                )
        inner = "".join(records)
        return Response.text(
            _envelope(f"<readMetadataResponse><result>{inner}</result></readMetadataResponse>"),
            200,
            "text/xml; charset=utf-8",
        )

    def _render(self, record: Record) -> str:
        extras = self._extras.get(record["Id"], {})
        values: dict[str, Any] = {"protected": False, "availability": "online", **extras}
        for key, _kind, sobject_field in WEBLINK_FIELDS:
            if sobject_field and record.get(sobject_field) is not None:
                values[key] = record[sobject_field]
        full_name = f"{record['PageOrSobjectType']}.{record['Name']}"
        parts = [f"<fullName>{xml_escape(full_name)}</fullName>"]
        for key, _kind, _field in WEBLINK_FIELDS:
            if values.get(key) is not None:
                parts.append(f"<{key}>{_xml_value(values[key])}</{key}>")
        return f'<records xsi:type="WebLink">{"".join(parts)}</records>'

    def _delete(self, operation: etree._Element) -> Response:
        kind, names = self._names(operation)
        results = []
        with self._lock:
            for full_name in names:
                sobject, _, name = full_name.partition(".")
                record = self._find(sobject, name) if kind == "WebLink" else None
                if record is None:
                    results.append(
                        f"<result><errors><message>{xml_escape(f'In field: fullName - no {kind} named {full_name} found')}"
                        "</message><statusCode>INVALID_CROSS_REFERENCE_KEY</statusCode></errors>"
                        f"<fullName>{xml_escape(full_name)}</fullName><success>false</success></result>"
                    )
                    continue
                self.org.delete("WebLink", record["Id"])
                self._extras.pop(record["Id"], None)
                results.append(
                    f"<result><fullName>{xml_escape(full_name)}</fullName><success>true</success></result>"
                )
        return Response.text(
            _envelope(f"<deleteMetadataResponse>{''.join(results)}</deleteMetadataResponse>"),
            200,
            "text/xml; charset=utf-8",
        )


# --- REST describe ----------------------------------------------------------------------------

_SYSTEM = {"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate"}
_SYSTEM |= {"LastModifiedById", "SystemModstamp"}
_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "boolean": "xsd:boolean",
}


def _urls(definition: SObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{definition.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def describe_summary(definition: SObjectDef, version: str) -> dict[str, Any]:
    """An sObject as the global describe lists it."""
    name = definition.name
    writable = name not in ("Organization", "WebLink")
    flags = dict.fromkeys(("activateable", "customSetting", "deepCloneable", "deprecatedAndHidden", "hasSubtypes", "isInterface", "isSubtype"), False)  # fmt: skip
    flags |= dict.fromkeys(("createable", "layoutable", "mruEnabled", "searchable", "triggerable", "updateable"), writable)  # fmt: skip
    return {
        **flags,
        "custom": name.endswith("__c"),
        "deletable": writable and name != "User",
        "feedEnabled": name in ("Account", "Contact", "Order"),
        "keyPrefix": definition.key_prefix,
        "label": definition.label,
        "labelPlural": definition.label_plural,
        "mergeable": name in ("Account", "Contact"),
        "name": name,
        "queryable": definition.queryable,
        "replicateable": True,
        "retrieveable": True,
        "undeletable": writable and name != "User",
        "urls": _urls(definition, version),
    }


def describe_sobject(base_url: str, definition: SObjectDef, version: str) -> dict[str, Any]:
    """``GET sobjects/{T}/describe/``: the real describe JSON shape, built from the schema."""
    name_field = next(
        (n for n in ("Name", f"{definition.name}Number") if definition.field_named(n)), None
    )
    children = [
        {
            "cascadeDelete": False,
            "childSObject": c.child_sobject,
            "deprecatedAndHidden": False,
            "field": c.field,
            "junctionIdListNames": [],
            "junctionReferenceTo": [],
            "relationshipName": c.name,
            "restrictedDelete": False,
        }
        for c in definition.child_relationships.values()
    ]
    urls = _urls(definition, version)
    urls.update(
        {
            "uiDetailTemplate": f"{base_url}/{{ID}}",
            "uiEditTemplate": f"{base_url}/{{ID}}/e",
            "uiNewRecord": f"{base_url}/{definition.key_prefix}/e",
            "layouts": f"{urls['describe']}/layouts",
            "compactLayouts": f"{urls['describe']}/compactLayouts",
            "quickActions": f"{urls['describe']}/quickActions",
        }
    )
    empty = dict.fromkeys(("associateEntityType", "associateParentEntity", "defaultImplementation", "extendedBy", "extendsInterfaces", "implementedBy", "implementsInterfaces", "listviewable", "lookupLayoutable", "networkScopeFieldName"))  # fmt: skip
    return {
        **describe_summary(definition, version),
        **empty,
        "actionOverrides": [],
        "childRelationships": children,
        "compactLayoutable": True,
        "dataTranslationEnabled": False,
        "fields": [_field_json(f, f.name == name_field) for f in definition.fields.values()],
        "namedLayoutInfos": [],
        "recordTypeInfos": [],
        "searchLayoutable": True,
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [{"label": "All", "name": "everything"}],
        "urls": urls,
    }


_FIELD_FALSE = dict.fromkeys(
    ("aiPredictionField", "calculated", "cascadeDelete", "caseSensitive", "dependentPicklist",
     "deprecatedAndHidden", "displayLocationInDecimal", "encrypted", "externalId",
     "formulaTreatNullNumberAsZero", "highScaleNumber", "htmlFormatted", "namePointing",
     "polymorphicForeignKey", "queryByDistance", "restrictedDelete", "restrictedPicklist",
     "searchPrefilterable", "unique", "writeRequiresMasterRead"),
    False,
)  # fmt: skip
_FIELD_NONE = dict.fromkeys(
    ("calculatedFormula", "compoundFieldName", "controllerName", "defaultValueFormula",
     "extraTypeInfo", "filteredLookupInfo", "inlineHelpText", "mask", "maskType",
     "referenceTargetField", "relationshipOrder"),
)  # fmt: skip


def _field_json(field: FieldDef, is_name: bool) -> dict[str, Any]:
    """One entry of describe's ``fields``, with every key the real describe answers."""
    kind = field.type
    system = field.name in _SYSTEM
    auto = field.name in ("OrderNumber", "OrderItemNumber")
    text = kind in ("string", "textarea", "picklist", "phone", "email", "url", "id", "reference")
    long_text = kind == "textarea" and field.length > 255
    numeric = (18, 2) if kind in ("currency", "double", "percent") else (0, 0)
    return {
        **_FIELD_FALSE,
        **_FIELD_NONE,
        "aggregatable": not long_text,
        "autoNumber": auto,
        "byteLength": field.length * 3 if text else 0,
        "createable": not system and not auto,
        "custom": field.custom,
        "defaultValue": False if kind == "boolean" else None,
        "defaultedOnCreate": system or auto or kind == "boolean",
        "digits": 9 if kind == "int" else 0,
        "filterable": not long_text,
        "groupable": not long_text and kind not in ("double", "currency", "percent", "datetime"),
        "idLookup": field.name == "Id" or auto,
        "label": field.label,
        "length": field.length if text else 0,
        "name": field.name,
        "nameField": is_name,
        "nillable": field.nillable and kind != "boolean",
        "permissionable": field.nillable and not system and not field.name.endswith("Id"),
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
            for v in field.picklist_values
        ],
        "precision": numeric[0],
        "referenceTo": [field.reference_to] if field.reference_to else [],
        "relationshipName": field.relationship_name,
        "scale": numeric[1],
        "soapType": _SOAP_TYPES.get(kind, "xsd:string"),
        "sortable": not long_text,
        "type": kind,
        "updateable": not system and not auto,
    }
