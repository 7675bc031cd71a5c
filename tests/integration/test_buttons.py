"""The button setup assistant against the sandbox org: status, plan, deploy through the Metadata API."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trustme

from cpq_sync_gui import buttons
from cpq_sync_gui.buttons import ButtonState, button_status, deploy, deployment_plan
from cpq_sync_gui.connections import open_salesforce
from cpq_sync_gui.net import make_session
from cpq_sync_gui.salesforce.client import SalesforceClient
from cpq_sync_gui.salesforce.session import SalesforceConnection, password_login
from cpq_sync_gui.sandbox.salesforce_metadata import NO_METADATA_PERMISSION
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.settings import Profile
from tests.helpers.buttons import sandbox_profile, sandbox_secrets, weblink_record

VERSION = "62.0"


def connect(sandbox: Sandbox, profile: Profile | None = None) -> tuple[Profile, SalesforceClient]:
    profile = profile or sandbox_profile(sandbox)
    return profile, open_salesforce(profile, sandbox_secrets(sandbox))


def weblinks(sandbox: Sandbox) -> dict[str, dict]:
    return {r["Name"]: r for r in sandbox.org.where("WebLink", lambda r: True)}


def metadata_posts(sandbox: Sandbox) -> list[str]:
    return [e.path for e in sandbox.log.entries(method="POST", path_glob="/services/Soap/m/*")]


def states(statuses: list[buttons.ButtonStatus]) -> dict[str, ButtonState]:
    return {s.spec.name: s.state for s in statuses}


# --- status --------------------------------------------------------------------------------


def test_missing_then_deploy_then_ok(sandbox: Sandbox) -> None:
    profile, client = connect(sandbox)
    before = button_status(client, profile)
    assert states(before) == {
        "send_to_zuora_account": ButtonState.MISSING,
        "send_to_zuora_order": ButtonState.MISSING,
    }
    assert sandbox.log.count(method="GET", path_glob="*/query*") == 1  # ONE WebLink query

    plan = deployment_plan(before)
    assert [(c.action, c.spec.full_name) for c in plan] == [
        ("create", "Account.send_to_zuora_account"),
        ("create", "Order.send_to_zuora_order"),
    ]
    account = plan[0].metadata
    expected_url = f"{sandbox.connector_url}?sfdc={sandbox.sfdc_domain}&accountId={{!Account.Id}}"
    assert account["url"] == expected_url
    assert (account["displayType"], account["linkType"], account["openType"]) == (
        "button",
        "url",
        "newWindow",
    )
    shown = buttons.plan_text(plan)
    for name, _value in plan[1].fields:  # every field that will be sent is shown
        assert f"{name}: " in shown
    assert f"url: {sandbox.connector_url}?sfdc={sandbox.sfdc_domain}&orderId={{!Order.Id}}" in shown

    results = deploy(client.connection, plan)
    assert [r.ok for r in results] == [True, True], [r.message for r in results]
    assert metadata_posts(sandbox) == [f"/services/Soap/m/{VERSION}/"] * 2

    after = button_status(client, profile)
    assert states(after) == {
        "send_to_zuora_account": ButtonState.OK,
        "send_to_zuora_order": ButtonState.OK,
    }
    assert deployment_plan(after) == []
    found = weblinks(sandbox)
    assert found["send_to_zuora_account"]["Url"] == expected_url
    assert found["send_to_zuora_order"]["Url"].endswith("&orderId={!Order.Id}")
    assert found["send_to_zuora_order"]["MasterLabel"] == "Send to Zuora"
    assert found["send_to_zuora_order"]["Height"] == 600


def test_wrong_domain_is_misconfigured_with_the_difference_and_fixed_by_deploy(
    sandbox: Sandbox,
) -> None:
    profile, client = connect(sandbox)
    wrong = f"{sandbox.connector_url}?sfdc=acme.lightning.force.com&accountId={{!Account.Id}}"
    weblink_record(
        sandbox,
        "Account",
        "send_to_zuora_account",
        Url=wrong,
        MasterLabel="Sync to Zuora",
        Description="made by hand",
        Height=700,
    )

    account, order = button_status(client, profile)
    assert account.state == ButtonState.MISCONFIGURED
    assert [(d.problem, d.actual, d.expected) for d in account.differences] == [
        ("wrong domain", "sfdc=acme.lightning.force.com", f"sfdc={sandbox.sfdc_domain}")
    ]
    assert "wrong domain" in account.summary
    assert "acme.lightning.force.com" in account.summary
    assert order.state == ButtonState.MISSING

    plan = deployment_plan([account, order])
    assert [c.action for c in plan] == ["update", "create"]
    update = plan[0]
    assert update.metadata["url"] == (
        f"{sandbox.connector_url}?sfdc={sandbox.sfdc_domain}&accountId={{!Account.Id}}"
    )
    # The admin's own label, description and height survive the update.
    assert update.metadata["masterLabel"] == "Sync to Zuora"
    assert update.metadata["description"] == "made by hand"
    assert update.metadata["height"] == 700
    assert f"url: {wrong} → {update.metadata['url']}" in update.describe()

    results = deploy(client.connection, plan)
    assert all(r.ok for r in results), [r.message for r in results]
    assert states(button_status(client, profile)) == {
        "send_to_zuora_account": ButtonState.OK,
        "send_to_zuora_order": ButtonState.OK,
    }
    fixed = weblinks(sandbox)["send_to_zuora_account"]
    assert (fixed["MasterLabel"], fixed["Description"], fixed["Height"]) == (
        "Sync to Zuora",
        "made by hand",
        700,
    )


def test_every_kind_of_difference_is_listed(sandbox: Sandbox) -> None:
    profile, client = connect(sandbox)
    weblink_record(
        sandbox,
        "Order",
        "send_to_zuora_order",
        DisplayType="massActionButton",
        OpenType="replace",
        LinkType="javascript",
        Url=f"https://old.example.com/sfdccpq?sfdc={sandbox.sfdc_domain}&accountId={{!Account.Id}}",
    )
    # Newer API versions may answer one-letter display types: B is a detail-page button.
    weblink_record(
        sandbox,
        "Account",
        "send_to_zuora_account",
        DisplayType="B",
        Url=f"{sandbox.connector_url}?sfdc={sandbox.sfdc_domain}&accountId={{!Account.Id}}",
    )
    account, order = button_status(client, profile)
    assert account.state == ButtonState.OK
    assert order.state == ButtonState.MISCONFIGURED
    assert [(d.setting, d.problem, d.actual, d.expected) for d in order.differences] == [
        ("Display Type", "not a detail-page button", "'List Button'", "'Detail Page Button'"),
        (
            "Behavior",
            "does not open in a new window",
            "'Display in existing window without sidebar or header'",
            "'Display in new window'",
        ),
        ("Content Source", "link type is not URL", "'OnClick JavaScript'", "'URL'"),
        (
            "Button URL",
            "wrong connector address",
            "https://old.example.com/sfdccpq",
            sandbox.connector_url,
        ),
        ("Button URL", "wrong merge field", "accountId={!Account.Id}", "orderId={!Order.Id}"),
    ]
    results = deploy(client.connection, deployment_plan([account, order]))
    assert [r.ok for r in results] == [True]
    assert states(button_status(client, profile))["send_to_zuora_order"] == ButtonState.OK


def test_a_managed_package_button_of_the_same_name_is_not_ours(sandbox: Sandbox) -> None:
    profile, client = connect(sandbox)
    weblink_record(sandbox, "Account", "send_to_zuora_account", NamespacePrefix="zqu", Url="x")
    account, _ = button_status(client, profile)
    assert account.state == ButtonState.MISSING
    assert "zqu" in account.notes[0]


# --- failures in Salesforce's words ---------------------------------------------------------


def test_permission_error_appears_as_salesforce_words_it(sandbox: Sandbox) -> None:
    profile, client = connect(sandbox)
    sandbox.salesforce_service.deny_metadata_for(sandbox.credentials.sf_username)
    results = deploy(client.connection, deployment_plan(button_status(client, profile)))
    assert [r.ok for r in results] == [False, False]
    first = results[0].message
    assert NO_METADATA_PERMISSION in first  # verbatim, as Salesforce says it
    assert "INSUFFICIENT_ACCESS" in first
    assert "Modify Metadata" in first  # and what to do about it
    assert "not tried" in results[1].message  # no second refusal for the same reason
    assert metadata_posts(sandbox) == [f"/services/Soap/m/{VERSION}/"]
    assert weblinks(sandbox) == {}


def test_a_refused_component_shows_salesforce_message_and_the_rest_still_goes(
    sandbox: Sandbox,
) -> None:
    profile, client = connect(sandbox)
    plan = deployment_plan(button_status(client, profile))
    # Someone creates the Account button after the check, before the deploy.
    buttons.deploy(client.connection, plan[:1])
    results = deploy(client.connection, plan)
    assert [r.ok for r in results] == [False, True]
    assert "DUPLICATE_DEVELOPER_NAME" in results[0].message
    assert "There is already a Custom Button or Link named send_to_zuora_account" in (
        results[0].message
    )


def test_an_expired_session_is_renewed_once_for_the_metadata_api(sandbox: Sandbox) -> None:
    profile, client = connect(sandbox)
    plan = deployment_plan(button_status(client, profile))
    sandbox.salesforce_service.expire_all_sessions()
    results = deploy(client.connection, plan)
    assert all(r.ok for r in results), [r.message for r in results]
    assert client.connection.relogin_count == 1


def test_a_failed_login_again_is_reported_in_plain_words(sandbox: Sandbox) -> None:
    profile, client = connect(sandbox)
    plan = deployment_plan(button_status(client, profile))
    # The password was changed in Salesforce since this connection logged in.
    connection = SalesforceConnection(
        client.connection._result,
        session=client.connection.session,
        api_version=profile.salesforce.api_version,
        login=lambda: password_login(
            sandbox.salesforce_url,
            sandbox.credentials.sf_username,
            "changed-since",
            None,
            session=client.connection.session,
            api_version=profile.salesforce.api_version,
        ),
    )
    sandbox.salesforce_service.expire_all_sessions()
    results = deploy(connection, plan)
    assert [r.ok for r in results] == [False, False]
    assert "INVALID_LOGIN" in results[0].message
    assert results[0].message.startswith("Could not create the Account button")


# --- TLS: the profile's CA bundle, never REQUESTS_CA_BUNDLE ------------------------------------


def test_deploy_verifies_tls_against_the_profiles_ca_bundle(
    sandbox: Sandbox, requests_ca_bundle_points_elsewhere: str
) -> None:
    # REQUESTS_CA_BUNDLE names the system bundle, which does not trust the sandbox; zeep's own
    # session would use it (and fail) unless the profile's bundle is applied to it.
    assert os.environ["REQUESTS_CA_BUNDLE"] == requests_ca_bundle_points_elsewhere
    assert requests_ca_bundle_points_elsewhere != str(sandbox.ca_path)
    profile, client = connect(sandbox)
    assert profile.network.ca_bundle == sandbox.ca_path
    results = deploy(client.connection, deployment_plan(button_status(client, profile)))
    assert all(r.ok for r in results), [r.message for r in results]
    zeep_session = client.connection.sf.mdapi._client.transport.session
    assert zeep_session.verify == str(sandbox.ca_path)
    assert zeep_session.trust_env is False


def test_deploy_fails_when_the_profiles_ca_bundle_does_not_trust_the_server(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proof that verification is on: a bundle without the sandbox's CA fails the TLS check,
    even with REQUESTS_CA_BUNDLE naming a bundle that WOULD trust it."""
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA(organization_name="Some corporate CA").cert_pem.write_to_path(str(other_ca))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sandbox.ca_path))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(sandbox.ca_path))
    good_profile, good_client = connect(sandbox)
    plan = deployment_plan(button_status(good_client, good_profile))

    # The same logged-in session, on the network settings of a profile whose bundle lacks the CA.
    profile = sandbox_profile(sandbox, ca_bundle=other_ca)
    connection = SalesforceConnection(
        good_client.connection._result,
        session=make_session(profile.network),
        api_version=profile.salesforce.api_version,
    )
    results = deploy(connection, plan)
    assert [r.ok for r in results] == [False, False]
    assert "certificate" in results[0].message
    assert "not trusted" in results[0].message
    assert "CA certificate file" in results[0].message  # what to do
    assert metadata_posts(sandbox) == []  # nothing reached the server
    assert weblinks(sandbox) == {}
