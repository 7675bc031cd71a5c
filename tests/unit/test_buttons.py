"""buttons.py without a server: comparing buttons, the plan, the ticket, and where mdapi sends from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import certifi
import pytest
import requests
from requests.adapters import BaseAdapter
from simple_salesforce import Salesforce

from cpq_sync_gui import buttons
from cpq_sync_gui.buttons import (
    ButtonsError,
    ButtonState,
    compare,
    configure_metadata_session,
    deployment_plan,
    expected_buttons,
    statuses_from_records,
    url_differences,
)
from cpq_sync_gui.net import make_session
from cpq_sync_gui.settings import ConnectorSettings, NetworkSettings, Profile, ZuoraSettings

ENDPOINT = "https://r7eq6a62d4.execute-api.us-west-2.amazonaws.com/default/sfdccpq"
DOMAIN = "acme.lightning.force.com"
ACCOUNT_URL = f"{ENDPOINT}?sfdc={DOMAIN}&accountId={{!Account.Id}}"


def profile(**connector: Any) -> Profile:
    return Profile(
        name="Acme UAT",
        connector=ConnectorSettings(**{"sfdc_domain": DOMAIN, **connector}),
        zuora=ZuoraSettings(environment="us_api_sandbox_cloud1", entity_id="acme-eu"),
        network=NetworkSettings(proxy_mode="none"),
    )


def account_spec() -> buttons.ButtonSpec:
    return expected_buttons(profile())[0]


def record(**fields: Any) -> dict[str, Any]:
    return {
        "attributes": {"type": "WebLink"},
        "Id": "00b000000000001AAA",
        "Name": "send_to_zuora_account",
        "PageOrSobjectType": "Account",
        "MasterLabel": "Send to Zuora",
        "DisplayType": "button",
        "LinkType": "url",
        "OpenType": "newWindow",
        "Url": ACCOUNT_URL,
        "NamespacePrefix": None,
        **fields,
    }


# --- what the buttons should be -----------------------------------------------------------


def test_expected_buttons_follow_zuoras_instructions() -> None:
    account, order = expected_buttons(profile())
    assert (account.full_name, account.url) == ("Account.send_to_zuora_account", ACCOUNT_URL)
    assert (order.full_name, order.url) == (
        "Order.send_to_zuora_order",
        f"{ENDPOINT}?sfdc={DOMAIN}&orderId={{!Order.Id}}",
    )
    assert account.label == order.label == "Send to Zuora"


def test_the_domain_comes_from_the_org_when_the_profile_has_none() -> None:
    blank = profile(sfdc_domain="")
    spec = expected_buttons(blank, "https://acme--uat.sandbox.my.salesforce.com")[0]
    assert spec.sfdc_domain == "acme--uat.sandbox.lightning.force.com"
    with pytest.raises(ButtonsError, match="Salesforce domain"):
        expected_buttons(blank)


# --- comparing ------------------------------------------------------------------------------


def test_a_correct_button_is_ok_whatever_the_case_of_the_merge_field() -> None:
    status = compare(account_spec(), record(Url=ACCOUNT_URL.replace("Account.Id", "account.id")))
    assert status.state == ButtonState.OK
    assert status.summary == "OK"
    assert "attributes" not in (status.record or {})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            f"{ENDPOINT}?sfdc=https://{DOMAIN}&accountId={{!Account.Id}}",
            [("wrong domain", f"sfdc=https://{DOMAIN}", f"sfdc={DOMAIN}")],
        ),
        (
            f"{ENDPOINT}?accountId={{!Account.Id}}",
            [("wrong domain", "not sent (no sfdc=)", f"sfdc={DOMAIN}")],
        ),
        (
            f"{ENDPOINT}?sfdc={DOMAIN}&accountId={{!Account.Name}}",
            [("wrong merge field", "accountId={!Account.Name}", "accountId={!Account.Id}")],
        ),
        (
            f"{ENDPOINT}?sfdc={DOMAIN}&orderId={{!Order.Id}}",
            [("wrong merge field", "orderId={!Order.Id}", "accountId={!Account.Id}")],
        ),
        (
            f"{ENDPOINT}/?sfdc={DOMAIN}&accountId={{!Account.Id}}&debug=1",
            [("unexpected parameters in the URL", "debug=1", "only sfdc and accountId")],
        ),
        (
            f"https://example.com/sfdccpq?sfdc={DOMAIN}&accountId={{!Account.Id}}",
            [("wrong connector address", "https://example.com/sfdccpq", ENDPOINT)],
        ),
        ("", [("no URL", "empty", ACCOUNT_URL)]),
    ],
)
def test_url_differences_name_the_part_that_is_wrong(
    url: str, expected: list[tuple[str, str, str]]
) -> None:
    found = url_differences(account_spec(), url)
    assert [(d.problem, d.actual, d.expected) for d in found] == expected


def test_a_renamed_label_is_a_note_not_a_misconfiguration() -> None:
    status = compare(account_spec(), record(MasterLabel="Sync to Zuora"))
    assert status.state == ButtonState.OK
    assert "Sync to Zuora" in status.notes[0]


def test_names_match_case_insensitively_and_other_objects_do_not_count() -> None:
    records = [
        record(Name="Send_To_Zuora_Account"),
        record(PageOrSobjectType="Order", Name="send_to_zuora_account"),
    ]
    account, order = statuses_from_records(expected_buttons(profile()), records)
    assert account.state == ButtonState.OK
    assert order.state == ButtonState.MISSING


# --- the plan and the texts -----------------------------------------------------------------


def test_the_plan_shows_create_and_update_with_every_field() -> None:
    statuses = statuses_from_records(
        expected_buttons(profile()), [record(DisplayType="L", Url=ACCOUNT_URL + "x")]
    )
    update, create = deployment_plan(statuses)
    assert (update.action, create.action) == ("update", "create")
    text = update.describe()
    assert "displayType: link → button" in text
    assert "because: not a detail-page button: is 'Detail Page Link'" in text
    for name, _value in update.fields:
        assert f"  {name}: " in text
    assert create.metadata["description"] == buttons.DEFAULT_DESCRIPTION
    assert "Nothing to deploy" in buttons.plan_text([])


def test_support_ticket_has_the_urls_the_domain_and_the_tenant() -> None:
    p = profile()
    statuses = statuses_from_records(expected_buttons(p), [])
    ticket = buttons.support_ticket_text(p, statuses)
    assert ACCOUNT_URL in ticket
    assert f"{ENDPOINT}?sfdc={DOMAIN}&orderId={{!Order.Id}}" in ticket
    assert f"sfdc): {DOMAIN}" in ticket
    assert "US API Sandbox (Cloud 1), entity acme-eu" in ticket


def test_layout_instructions_give_the_click_path() -> None:
    text = buttons.layout_instructions()
    assert "Setup > Object Manager > Account > Page Layouts" in text
    assert 'drag "Send to Zuora" into the Custom Buttons' in text.replace("Drag", "drag")
    assert "Mobile & Lightning Actions" in text
    assert "Object Manager > Order > Page Layouts" in text


# --- where simple-salesforce's Metadata API sends from ----------------------------------------


class Recorder(BaseAdapter):
    """A transport adapter that records how a request would be sent, then refuses it."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append({"url": request.url, **kwargs})
        raise requests.ConnectionError("recorded, not sent")

    def close(self) -> None:
        pass


def salesforce(session: requests.Session) -> Salesforce:
    return Salesforce(
        session_id="00Dx!test", instance="acme.my.salesforce.com", session=session, version="62.0"
    )


def test_mdapi_posts_through_zeeps_own_session_which_configure_sets_up(tmp_path: Path) -> None:
    """Fails when simple-salesforce or zeep move the session the Metadata API sends with."""
    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    network = NetworkSettings(
        proxy_mode="manual", proxy_url="http://proxy.example.com:3128", ca_bundle=bundle
    )
    session = make_session(network)
    sf = salesforce(session)
    mdapi = sf.mdapi
    zeep_session = mdapi._client.transport.session
    assert zeep_session is not session  # the fact this whole function exists for

    configure_metadata_session(mdapi, session)
    recorder = Recorder()
    zeep_session.mount("https://", recorder)
    with pytest.raises(requests.ConnectionError, match="recorded"):
        mdapi.WebLink.read(["Account.send_to_zuora_account"])
    (sent,) = recorder.sent
    assert sent["url"] == "https://acme.my.salesforce.com/services/Soap/m/62.0/"
    assert sent["verify"] == str(bundle)
    assert sent["proxies"]["https"] == "http://proxy.example.com:3128"
    assert sent["timeout"] == (10.0, 60.0)
    assert zeep_session.trust_env is False


def test_system_proxy_mode_uses_the_computers_proxy_for_the_metadata_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("https_proxy", "http://system-proxy.example.com:8080")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    session = make_session(NetworkSettings(proxy_mode="system"))
    mdapi = salesforce(session).mdapi
    configure_metadata_session(mdapi, session)
    assert mdapi._client.transport.session.proxies == {
        "https": "http://system-proxy.example.com:8080"
    }


def test_configure_refuses_when_the_internals_moved_or_verification_is_off() -> None:
    class Moved:
        metadata_url = "https://acme.my.salesforce.com/services/Soap/m/62.0/"

    with pytest.raises(ButtonsError, match="Create them by hand"):
        configure_metadata_session(Moved(), requests.Session())  # type: ignore[arg-type]
    session = requests.Session()
    session.verify = False
    with pytest.raises(ButtonsError, match="never turns off certificate checks"):
        configure_metadata_session(salesforce(session).mdapi, session)
