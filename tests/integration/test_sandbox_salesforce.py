"""The sandbox Salesforce REST and Metadata APIs against unmodified simple-salesforce over HTTPS."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from html import escape

import pytest
import requests
import zeep.exceptions
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.login import soap_login
from simple_salesforce.util import Usage

from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.credentials import SandboxCredentials
from cpq_sync_gui.sandbox.data import generate_org
from cpq_sync_gui.sandbox.http import FaultPlan, RequestLog, ServiceServer
from cpq_sync_gui.sandbox.salesforce import SalesforceService
from cpq_sync_gui.sandbox.tls import SandboxTLS

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
VERSION = "62.0"
BUTTON_URL = (
    "https://connector.example.com/sfdccpq?sfdc=acme.lightning.force.com&accountId={!Account.Id}"
)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Org:
    """A running sandbox org and a logged-in simple-salesforce client."""

    def __init__(self, service: SalesforceService, server: ServiceServer, log: RequestLog,
                 creds: SandboxCredentials, clock: Clock, tls: SandboxTLS) -> None:  # fmt: skip
        self.service, self.server, self.log, self.creds, self.clock = (
            service,
            server,
            log,
            creds,
            clock,
        )
        self.url = server.url
        self.ca_path = str(tls.ca_path)
        self.http = requests.Session()
        self.http.verify = self.ca_path
        self.http.trust_env = False
        self.sf = self.login(creds.sf_username)

    def login(self, username: str) -> Salesforce:
        password = escape(self.creds.sf_password + self.creds.sf_security_token)
        body = (
            '<?xml version="1.0" encoding="utf-8" ?><env:Envelope '
            'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
            '<n1:login xmlns:n1="urn:partner.soap.sforce.com">'
            f"<n1:username>{escape(username)}</n1:username><n1:password>{password}</n1:password>"
            "</n1:login></env:Body></env:Envelope>"
        )
        headers = {"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"}
        session_id, instance = soap_login(
            f"{self.url}/services/Soap/u/{self.service.config.api_version}",
            body,
            headers,
            None,
            self.http,
        )
        return Salesforce(
            session_id=session_id, instance=instance, session=self.http, version=VERSION
        )


@pytest.fixture(autouse=True)
def system_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> SandboxTLS:
    return SandboxTLS(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def make_org(tls: SandboxTLS) -> Iterator[Callable[..., Org]]:
    started: list[Org] = []

    def make(**settings: object) -> Org:
        config = SandboxConfig(**{"accounts": 40, "orders": 30, **settings})  # type: ignore[arg-type]
        creds = SandboxCredentials.generate()
        clock = Clock()
        service = SalesforceService(generate_org(config).org, config, creds, clock=clock)
        log = RequestLog()
        server = ServiceServer(service, tls.server_context(), FaultPlan(), log).start()
        started.append(Org(service, server, log, creds, clock, tls))
        return started[-1]

    yield make
    for org in started:
        org.http.close()
        org.server.stop()
        assert org.server.errors == []


@pytest.fixture
def org(make_org: Callable[..., Org]) -> Org:
    return make_org()


def trust_sandbox_in_mdapi(org: Org) -> None:
    # sf.mdapi runs on zeep with its own requests session: sf.session's verify never reaches it.
    transport_session = org.sf.mdapi._client.transport.session
    transport_session.verify = org.ca_path
    transport_session.trust_env = False


def button(org: Org, **changes: object) -> object:
    fields = {"fullName": "Account.send_to_zuora_account", "availability": "online",
              "displayType": "button", "linkType": "url", "openType": "newWindow",
              "masterLabel": "Send to Zuora", "protected": False, "encodingKey": "UTF-8",
              "url": BUTTON_URL, "height": 600, **changes}  # fmt: skip
    return org.sf.mdapi.WebLink(**fields)


WEBLINK_SOQL = (
    "SELECT Id, Name, MasterLabel, PageOrSobjectType, DisplayType, LinkType, OpenType, Url, "
    "NamespacePrefix FROM WebLink WHERE PageOrSobjectType IN ('Account','Order') "
    "AND Name IN ('send_to_zuora_account','send_to_zuora_order')"
)


# --- versions and resources -------------------------------------------------------------------


def test_versions_list_up_to_the_configured_version(make_org: Callable[..., Org]) -> None:
    org = make_org(api_version="61.0")
    versions = org.http.get(f"{org.url}/services/data/").json()
    assert versions[-1] == {"label": "Summer '24", "url": "/services/data/v61.0", "version": "61.0"}
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} not in versions


def test_unknown_version_is_not_found(make_org: Callable[..., Org]) -> None:
    org = make_org(api_version="61.0")
    with pytest.raises(SalesforceResourceNotFound) as failure:
        org.sf.query("SELECT Id FROM Account")  # the client asks for v62.0
    assert failure.value.content == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


def test_resources_of_a_version(org: Org) -> None:
    resources = org.sf.restful("")
    assert resources["query"] == f"/services/data/v{VERSION}/query"
    assert resources["sobjects"] == f"/services/data/v{VERSION}/sobjects"
    assert resources["identity"].startswith(f"{org.url}/id/{org.service.org_id}/005")


# --- queries -----------------------------------------------------------------------------------


def test_query_all_iter_pages_5000_accounts_at_batch_size_200(make_org: Callable[..., Org]) -> None:
    org = make_org(accounts=5000, orders=0)
    org.log.clear()
    first = org.sf.query(
        "SELECT Id, Name FROM Account", headers={"Sforce-Query-Options": "batchSize=200"}
    )
    assert (first["totalSize"], first["done"], len(first["records"])) == (5000, False, 200)
    assert first["nextRecordsUrl"].startswith(f"/services/data/v{VERSION}/query/01g")
    assert first["nextRecordsUrl"].endswith("-200")
    rows = list(
        org.sf.query_all_iter(
            "SELECT Id, Name FROM Account", headers={"Sforce-Query-Options": "batchSize=200"}
        )
    )
    assert len(rows) == 5000
    assert len({r["Id"] for r in rows}) == 5000
    pages = org.log.entries(method="GET", path_glob=f"/services/data/v{VERSION}/query/*")
    assert len(pages) == 1 + 25  # the single page above, then query_all_iter's 25 pages
    assert sum(1 for p in pages if p.path.endswith("/query/")) == 2
    assert all(p.status == 200 for p in pages)


def test_default_batch_size_is_2000(make_org: Callable[..., Org]) -> None:
    org = make_org(accounts=4500, orders=0)
    org.log.clear()
    assert len(org.sf.query_all("SELECT Id FROM Account")["records"]) == 4500
    assert org.log.count(path_glob="/services/data/*/query/01g*") == 2


@pytest.mark.parametrize("size", ["100", "2001", "lots"])
def test_invalid_batch_size(org: Org, size: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        org.sf.query(
            "SELECT Id FROM Account", headers={"Sforce-Query-Options": f"batchSize={size}"}
        )
    assert failure.value.content[0]["errorCode"] == "INVALID_BATCH_SIZE"


def test_query_locator_expires_and_cursors_are_bounded(make_org: Callable[..., Org]) -> None:
    org = make_org(accounts=450, orders=0)
    options = {"Sforce-Query-Options": "batchSize=200"}
    first = org.sf.query("SELECT Id FROM Account", headers=options)
    org.clock.now += 14 * 60
    second = org.sf.query_more(first["nextRecordsUrl"], identifier_is_url=True, headers=options)
    assert len(second["records"]) == 200
    org.clock.now += 15 * 60
    with pytest.raises(SalesforceMalformedRequest) as failure:
        org.sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert failure.value.content == [
        {"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}
    ]
    for _ in range(15):
        org.sf.query("SELECT Id FROM Account", headers=options)
    assert org.service.open_cursors == 10  # Salesforce keeps 10 open cursors per user


def test_order_with_order_items_subquery_and_product_code(org: Org) -> None:
    result = org.sf.query(
        "SELECT Id, OrderNumber, Account.Name, (SELECT Id, Quantity, Product2.ProductCode "
        "FROM OrderItems) FROM Order WHERE Status = 'Activated' LIMIT 5"
    )
    assert 0 < result["totalSize"] <= 5
    for order in result["records"]:
        assert order["attributes"]["type"] == "Order"
        assert isinstance(order["Account"]["Name"], str)
        items = order["OrderItems"]
        if items is not None:
            assert items["done"] is True
            for item in items["records"]:
                assert item["attributes"]["type"] == "OrderItem"
                assert item["Product2"]["ProductCode"]


def test_child_records_count_toward_the_batch_size(make_org: Callable[..., Org]) -> None:
    org = make_org(accounts=300, orders=900)
    soql = "SELECT Id, (SELECT Id FROM OrderItems) FROM Order"
    page = org.sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    weight = sum(
        1 + (len(o["OrderItems"]["records"]) if o["OrderItems"] else 0) for o in page["records"]
    )
    assert weight <= 200
    assert len(page["records"]) < 200
    rows = list(org.sf.query_all_iter(soql, headers={"Sforce-Query-Options": "batchSize=200"}))
    assert len(rows) == page["totalSize"] == 900


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM", "MALFORMED_QUERY"),
        ("SELECT Id, Nmae FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Acount", "INVALID_TYPE"),
    ],
)
def test_query_errors(org: Org, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as failure:
        org.sf.query(soql)
    assert failure.value.status == 400
    assert failure.value.content[0]["errorCode"] == code
    assert failure.value.content[0]["message"]


# --- describe and records ----------------------------------------------------------------------


def test_describe_with_cpq_fields(org: Org) -> None:
    describe = org.sf.OrderItem.describe()
    fields = {f["name"]: f for f in describe["fields"]}
    assert describe["name"] == "OrderItem"
    assert describe["keyPrefix"] == "802"
    charge = fields["SBQQ__ChargeType__c"]
    assert charge["custom"] is True
    assert charge["type"] == "picklist"
    assert [v["value"] for v in charge["picklistValues"]] == ["One-Time", "Recurring", "Usage"]
    product = fields["Product2Id"]
    assert (product["type"], product["referenceTo"], product["relationshipName"]) == (
        "reference",
        ["Product2"],
        "Product2",
    )
    assert {"name", "type", "label", "length", "nillable", "soapType", "updateable"} <= set(product)
    order = org.sf.Order.describe()
    assert {
        "relationshipName": "OrderItems",
        "childSObject": "OrderItem",
        "field": "OrderId",
    }.items() <= next(
        c for c in order["childRelationships"] if c["relationshipName"] == "OrderItems"
    ).items()
    assert order["urls"]["describe"] == f"/services/data/v{VERSION}/sobjects/Order/describe"


def test_describe_without_cpq_fields(make_org: Callable[..., Org]) -> None:
    org = make_org(cpq_fields=False)
    names = {f["name"] for f in org.sf.OrderItem.describe()["fields"]}
    assert "Quantity" in names
    assert not any(n.startswith("SBQQ__") for n in names)
    with pytest.raises(SalesforceMalformedRequest) as failure:
        org.sf.query("SELECT Id, SBQQ__ChargeType__c FROM OrderItem")
    assert failure.value.content[0]["errorCode"] == "INVALID_FIELD"


def test_global_describe_and_unknown_sobject(org: Org) -> None:
    names = {s["name"] for s in org.sf.describe()["sobjects"]}
    assert {"Account", "Contact", "Order", "OrderItem", "Product2", "WebLink"} <= names
    with pytest.raises(SalesforceResourceNotFound):
        org.sf.Acount.describe()


def test_record_by_id_with_fields(org: Org) -> None:
    account = org.sf.query("SELECT Id, Name FROM Account LIMIT 1")["records"][0]
    record = org.sf.Account.get(account["Id"])
    assert record["Name"] == account["Name"]
    assert "BillingCity" in record
    narrow = org.sf.restful(f"sobjects/Account/{account['Id']}", params={"fields": "Name"})
    assert set(narrow) == {"attributes", "Name"}
    with pytest.raises(SalesforceResourceNotFound):
        org.sf.Account.get("001000000000000AAA")


def test_sobject_collection_get(org: Org) -> None:
    ids = [r["Id"] for r in org.sf.query("SELECT Id FROM Account LIMIT 3")["records"]]
    answer = org.sf.restful(
        "composite/sobjects/Account",
        params={"ids": ",".join([*ids, "001000000000000AAA"]), "fields": "Name"},
    )
    assert [r["Id"] for r in answer[:3]] == ids
    assert answer[3] is None


# --- limits -------------------------------------------------------------------------------------


def test_limits_and_api_usage_header(org: Org) -> None:
    org.sf.query("SELECT Id FROM Account LIMIT 1")
    used = org.service.api_usage[0]
    assert org.sf.api_usage["api-usage"] == Usage(used, 15000)
    limits = org.sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - used - 1}
    assert org.sf.api_usage["api-usage"] == Usage(used + 1, 15000)
    for entry in org.log.entries(path_glob="/services/data/v*"):
        assert entry.status == 200


def test_request_limit_exceeded(make_org: Callable[..., Org]) -> None:
    org = make_org(daily_api_limit=3)
    for _ in range(3):
        org.sf.query("SELECT Id FROM Account LIMIT 1")
    with pytest.raises(SalesforceRefusedRequest) as failure:
        org.sf.query("SELECT Id FROM Account LIMIT 1")
    assert failure.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    answer = org.http.get(
        f"{org.url}/services/data/v{VERSION}/limits/",
        headers={"Authorization": f"Bearer {org.sf.session_id}"},
    )
    assert answer.status_code == 403
    assert answer.headers["Sforce-Limit-Info"] == "api-usage=3/3"


# --- Metadata API: WebLink buttons ------------------------------------------------------------


def test_mdapi_ignores_the_custom_sessions_ca(org: Org) -> None:
    """Without configuring zeep's own session, REQUESTS_CA_BUNDLE decides and TLS fails."""
    with pytest.raises(requests.exceptions.SSLError):
        org.sf.mdapi.WebLink.create([button(org)])


def test_create_button_then_find_it_with_soql(org: Org) -> None:
    trust_sandbox_in_mdapi(org)
    assert org.sf.query(WEBLINK_SOQL)["totalSize"] == 0
    org.sf.mdapi.WebLink.create([button(org)])
    found = org.sf.query(WEBLINK_SOQL)["records"]
    assert len(found) == 1
    link = found[0]
    assert link["Id"].startswith("00b")
    assert (link["Name"], link["PageOrSobjectType"], link["MasterLabel"]) == (
        "send_to_zuora_account",
        "Account",
        "Send to Zuora",
    )
    assert (link["DisplayType"], link["LinkType"], link["OpenType"], link["Url"]) == (
        "button",
        "url",
        "newWindow",
        BUTTON_URL,
    )
    read = org.sf.mdapi.WebLink.read(["Account.send_to_zuora_account"])
    assert (read.fullName, read.height, read.availability, read.protected) == (
        "Account.send_to_zuora_account",
        600,
        "online",
        False,
    )
    assert org.sf.mdapi.WebLink.read(["Account.no_such_button"]).fullName is None  # empty record


def test_update_and_upsert_button(org: Org) -> None:
    trust_sandbox_in_mdapi(org)
    org.sf.mdapi.WebLink.create([button(org)])
    org.sf.mdapi.WebLink.update([button(org, masterLabel="Sync to Zuora", height=700)])
    assert org.sf.query(WEBLINK_SOQL)["records"][0]["MasterLabel"] == "Sync to Zuora"
    assert org.sf.mdapi.WebLink.read(["Account.send_to_zuora_account"]).height == 700
    order_button = button(
        org,
        fullName="Order.send_to_zuora_order",
        url=BUTTON_URL.replace("accountId={!Account.Id}", "orderId={!Order.Id}"),
    )
    org.sf.mdapi.WebLink.upsert([order_button])
    assert org.sf.query(WEBLINK_SOQL)["totalSize"] == 2
    with pytest.raises(Exception, match="INVALID_CROSS_REFERENCE_KEY"):
        org.sf.mdapi.WebLink.update([button(org, fullName="Account.not_there")])


def test_duplicate_button(org: Org) -> None:
    trust_sandbox_in_mdapi(org)
    org.sf.mdapi.WebLink.create([button(org)])
    with pytest.raises(Exception, match="DUPLICATE_DEVELOPER_NAME") as failure:
        org.sf.mdapi.WebLink.create([button(org)])
    assert type(failure.value) is Exception  # simple-salesforce raises a plain Exception
    assert org.sf.query(WEBLINK_SOQL)["totalSize"] == 1


def test_invalid_button_name(org: Org) -> None:
    trust_sandbox_in_mdapi(org)
    with pytest.raises(Exception, match="can only contain underscores"):
        org.sf.mdapi.WebLink.create([button(org, fullName="Account.send__to zuora")])


def test_metadata_permission_error(org: Org) -> None:
    org.service.deny_metadata_for(org.creds.sf_username)
    trust_sandbox_in_mdapi(org)
    with pytest.raises(zeep.exceptions.Fault) as failure:
        org.sf.mdapi.WebLink.create([button(org)])
    assert failure.value.code == "sf:INSUFFICIENT_ACCESS"
    assert "ModifyAllData or ModifyMetadata" in failure.value.message
    assert org.sf.query(WEBLINK_SOQL)["totalSize"] == 0


def test_metadata_needs_a_live_session(org: Org) -> None:
    trust_sandbox_in_mdapi(org)
    org.service.expire_all_sessions()
    with pytest.raises(zeep.exceptions.Fault) as failure:
        org.sf.mdapi.WebLink.create([button(org)])
    assert failure.value.code == "sf:INVALID_SESSION_ID"
    posts = org.log.entries(method="POST", path_glob="/services/Soap/m/*")
    assert [p.path for p in posts] == [f"/services/Soap/m/{VERSION}/"]
