"""Zuora payload validation against the schemas generated from zuora-sdk."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cpq_sync_gui.sandbox.zuora_payloads import (
    is_missing_field,
    validate_create_account,
    validate_create_order,
    zuora_sdk_version,
)

# https://developer.zuora.com/docs/get-started/tutorials/create-account ("Create a billing
# account", request body of the cURL sample).
ACCOUNT_TUTORIAL: dict[str, Any] = {
    "billToContact": {
        "firstName": "Amy",
        "lastName": "Lawrence",
        "state": "California",
        "country": "USA",
    },
    "name": "Amy Lawrence account",
    "autoPay": False,
    "currency": "USD",
    "billCycleDay": 1,
}

# https://developer.zuora.com/docs/get-started/api-tutorials/orders-tutorials/create-subscriptions
# ("Create a subscription without charge overrides").
ORDER_TUTORIAL: dict[str, Any] = {
    "orderDate": "2025-02-01",
    "processingOptions": {"runBilling": True, "billingOptions": {"targetDate": "2025-02-01"}},
    "existingAccountNumber": "A00000001",
    "subscriptions": [
        {
            "orderActions": [
                {
                    "type": "CreateSubscription",
                    "createSubscription": {
                        "terms": {
                            "initialTerm": {
                                "startDate": "2025-02-01",
                                "period": 12,
                                "periodType": "Month",
                                "termType": "TERMED",
                            },
                            "renewalSetting": "RENEW_WITH_SPECIFIC_TERM",
                            "renewalTerms": [{"period": 12, "periodType": "Month"}],
                        },
                        "subscribeToRatePlans": [
                            {"productRatePlanId": "8ad08ea194da7ba00194df52a41f04c6"}
                        ],
                    },
                }
            ]
        }
    ],
}

# https://developer.zuora.com/rest-api/api-guides/3.3-create-subscription/ ("Create
# Subscriptions", step 2).
ORDER_GUIDE: dict[str, Any] = {
    "description": "This is a description for the Order.",
    "existingAccountNumber": "A00000001",
    "orderDate": "2022-01-01",
    "orderNumber": "OM-00001",
    "processingOptions": {"collectPayment": True, "runBilling": True},
    "subscriptions": [
        {
            "orderActions": [
                {
                    "createSubscription": {
                        "billToContactId": "efbff07e6290dfb8016291003bd00dda",
                        "invoiceTemplateId": "2c9081a03c638994013c63978baf002b",
                        "paymentTerm": "Net 30",
                        "sequenceSetId": "6abcc30846de11e990900242ac1f0003",
                        "subscribeToRatePlans": [
                            {"productRatePlanId": "efbff07e6290dfb8016291003bd00dda"}
                        ],
                        "subscriptionNumber": "SM-00001",
                        "terms": {
                            "autoRenew": True,
                            "initialTerm": {
                                "period": 12,
                                "periodType": "Month",
                                "startDate": "2022-01-01",
                                "termType": "TERMED",
                            },
                            "renewalSetting": "RENEW_WITH_SPECIFIC_TERM",
                            "renewalTerms": [{"period": 12, "periodType": "Month"}],
                        },
                    },
                    "triggerDates": [{"name": "ContractEffective", "triggerDate": "2022-01-01"}],
                    "type": "CreateSubscription",
                }
            ]
        }
    ],
}

# https://developer.zuora.com/rest-api/api-guides/4-update-price ("Create an order", evergreen
# subscription by product rate plan number).
ORDER_EVERGREEN: dict[str, Any] = {
    "orderDate": "2025-01-01",
    "processingOptions": {
        "runBilling": True,
        "collectPayment": True,
        "billingOptions": {"targetDate": "2025-01-01"},
    },
    "existingAccountNumber": "A00024362",
    "subscriptions": [
        {
            "orderActions": [
                {
                    "type": "CreateSubscription",
                    "createSubscription": {
                        "terms": {"initialTerm": {"termType": "EVERGREEN"}},
                        "subscribeToRatePlans": [{"productRatePlanNumber": "PRP-00000180"}],
                    },
                }
            ]
        }
    ],
}


def test_schemas_record_the_sdk_version_they_came_from() -> None:
    assert zuora_sdk_version() == "3.21.0"


def test_the_api_reference_account_example_is_valid() -> None:
    assert validate_create_account(ACCOUNT_TUTORIAL) == []


@pytest.mark.parametrize("payload", [ORDER_TUTORIAL, ORDER_GUIDE, ORDER_EVERGREEN])
def test_the_api_reference_order_examples_are_valid(payload: dict[str, Any]) -> None:
    assert validate_create_order(payload) == []


def _without(payload: dict[str, Any], *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return changed


def _with(payload: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("name",), "$.name: required property is missing"),
        (("currency",), "$.currency: required property is missing"),
        (("billToContact",), "$.billToContact: required property is missing"),
        (("billToContact", "lastName"), "$.billToContact.lastName: required property is missing"),
    ],
)
def test_a_missing_required_account_field_is_named(path: tuple[str, ...], expected: str) -> None:
    problems = validate_create_account(_without(ACCOUNT_TUTORIAL, *path))
    assert problems == [expected]
    assert is_missing_field(problems[0])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("orderDate",), "$.orderDate: required property is missing"),
        (
            ("subscriptions", 0, "orderActions", 0, "type"),
            "$.subscriptions[0].orderActions[0].type: required property is missing",
        ),
        (
            ("subscriptions", 0, "orderActions", 0, "createSubscription", "terms", "initialTerm"),
            "$.subscriptions[0].orderActions[0].createSubscription.terms.initialTerm: "
            "required property is missing",
        ),
    ],
)
def test_a_missing_required_order_field_is_named(
    path: tuple[str | int, ...], expected: str
) -> None:
    assert validate_create_order(_without(ORDER_TUTORIAL, *path)) == [expected]


@pytest.mark.parametrize(
    ("value", "path", "expected"),
    [
        ("1", ("billCycleDay",), '$.billCycleDay: expected integer, got "1"'),
        ("yes", ("autoPay",), '$.autoPay: expected boolean, got "yes"'),
        (5, ("billToContact", "firstName"), "$.billToContact.firstName: expected string, got 5"),
        ("x", ("billToContact",), '$.billToContact: expected object, got "x"'),
    ],
)
def test_a_wrong_account_type_is_named(value: Any, path: tuple[str, ...], expected: str) -> None:
    assert validate_create_account(_with(ACCOUNT_TUTORIAL, value, *path)) == [expected]


def test_a_wrong_order_type_is_named() -> None:
    period = ("subscriptions", 0, "orderActions", 0, "createSubscription", "terms")
    payload = _with(ORDER_TUTORIAL, "12", *period, "initialTerm", "period")
    assert validate_create_order(payload) == [
        "$.subscriptions[0].orderActions[0].createSubscription.terms.initialTerm.period: "
        'expected integer, got "12"'
    ]
    assert validate_create_order(_with(ORDER_TUTORIAL, {}, "subscriptions")) == [
        "$.subscriptions: expected array, got {}"
    ]


def test_a_non_numeric_list_price_override_is_refused() -> None:
    plans = ("subscriptions", 0, "orderActions", 0, "createSubscription", "subscribeToRatePlans")
    override = [
        {"productRatePlanChargeId": "c" * 32, "pricing": {"recurringFlatFee": {"listPrice": "9.5"}}}
    ]
    payload = _with(ORDER_TUTORIAL, override, *plans, 0, "chargeOverrides")
    assert validate_create_order(payload) == [
        "$.subscriptions[0].orderActions[0].createSubscription.subscribeToRatePlans[0]"
        '.chargeOverrides[0].pricing.recurringFlatFee.listPrice: expected number or integer, got "9.5"'
    ]


@pytest.mark.parametrize(
    ("path", "length", "limit"),
    [
        (("name",), 256, 255),
        (("crmId",), 101, 100),
        (("billToContact", "firstName"), 101, 100),
        (("billToContact", "city"), 101, 100),
    ],
)
def test_an_over_long_account_string_is_refused(
    path: tuple[str, ...], length: int, limit: int
) -> None:
    name = "$." + ".".join(path)
    problems = validate_create_account(_with(ACCOUNT_TUTORIAL, "x" * length, *path))
    assert problems == [f"{name}: {length} characters is longer than the maximum of {limit}"]
    assert validate_create_account(_with(ACCOUNT_TUTORIAL, "x" * limit, *path)) == []


def test_an_over_long_order_description_is_refused() -> None:
    assert validate_create_order(_with(ORDER_GUIDE, "d" * 501, "description")) == [
        "$.description: 501 characters is longer than the maximum of 500"
    ]


def test_an_empty_account_name_is_refused() -> None:
    assert validate_create_account(_with(ACCOUNT_TUTORIAL, "", "name")) == [
        "$.name: 0 characters is shorter than the minimum of 1"
    ]


def test_every_problem_is_reported_once() -> None:
    payload = _with(ACCOUNT_TUTORIAL, 7, "name")
    payload = _without(payload, "currency")
    assert validate_create_account(payload) == [
        "$.currency: required property is missing",
        "$.name: expected string, got 7",
    ]


def test_a_body_that_is_not_an_object_is_refused() -> None:
    assert validate_create_account([]) == ["$: expected object, got []"]
    assert validate_create_order("order") == ['$: expected object, got "order"']


def test_custom_fields_and_unknown_fields_pass() -> None:
    # Zuora ignores unknown fields unless rejectUnknownFields=true; custom fields end in __c.
    assert validate_create_account({**ACCOUNT_TUTORIAL, "Region__c": "EMEA"}) == []
