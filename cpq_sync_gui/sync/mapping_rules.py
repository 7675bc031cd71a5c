"""Every Salesforce → Zuora mapping rule, documented by Zuora or chosen by CPQ Sync, in one list.

docs/mapping.md shows the same table (a unit test keeps them equal); a plan names the rules
behind each payload by id, so an admin can see why a field holds what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAPPING_RULES", "MAX_ORDER_PRODUCTS", "MappingRule", "rule_text"]

MAX_ORDER_PRODUCTS = 50
"""Order products per order. The connector syncs at most 50 related objects; a synchronous
``POST /v1/orders`` takes at most 50 subscriptions and 50 order actions. Larger orders fail
in the plan (see rule ``order.limit``) instead of being split, because splitting would break
the one-to-one link OrderNumber ↔ orderNumber."""


@dataclass(frozen=True)
class MappingRule:
    id: str
    salesforce: str
    zuora: str
    rule: str
    documented: bool  # True: the connector's documentation says so; False: our choice


def _r(rule_id: str, sf: str, zuora: str, rule: str, documented: bool = True) -> MappingRule:
    return MappingRule(rule_id, sf, zuora, rule, documented)


MAPPING_RULES: tuple[MappingRule, ...] = (
    # Account
    _r("account.name", "Account.Name", "name", "Copied (at most 255 characters)."),
    _r("account.crm_id", "Account.Id", "crmId", "The 18-character id; it links the two records."),
    _r(
        "account.currency",
        "Account.CurrencyIsoCode",
        "currency",
        "The account's currency; in a single-currency org (or when blank) the org's currency. "
        "Neither known: the account is not sent.",
    ),
    _r("account.bill_cycle_day", "(none)", "billCycleDay", "1 (the connector's default)."),
    _r(
        "account.description",
        "Account.Description",
        "notes",
        "Zuora's create-account call has no description field; its free-text field is "
        "notes (65,535 characters), so the description goes there.",
        documented=False,
    ),
    _r(
        "account.sales_rep",
        "Account.Owner.Name",
        "salesRep",
        "The owner's full name, cut to Zuora's 50 characters.",
    ),
    _r("account.auto_pay", "(none)", "autoPay", "false."),
    _r(
        "account.bill_to",
        "Account.Billing address",
        "billToContact",
        "firstName and lastName are the account name followed by _billTo (Acme Inc_billTo). When that is longer than Zuora's "
        "100 characters the account name is cut (trailing spaces removed) so the whole "
        "suffix stays. A billing address is mandatory and needs a country and a state.",
    ),
    _r(
        "account.sold_to",
        "Account.Shipping address",
        "soldToContact",
        "firstName and lastName are the account name followed by _soldTo (cut like the Bill To name). With no "
        "shipping address the Bill To contact is sent again as the Sold To contact.",
    ),
    _r(
        "address.street",
        "Street",
        "address1 / address2",
        "The first line of the street goes to address1; further lines, joined with ', ', go "
        "to address2 (Zuora has two single-line fields).",
        documented=False,
    ),
    _r("address.city", "City", "city", "Copied."),
    _r(
        "address.state",
        "State (StateCode)",
        "state",
        "The state code when the org has state picklists, else the state text.",
    ),
    _r("address.zip", "PostalCode", "zipCode", "Copied (Zuora holds 20 characters)."),
    _r(
        "address.country",
        "Country (CountryCode)",
        "country",
        "The country code when the org has country picklists, else the country text.",
    ),
    _r(
        "account.contact",
        "Contact.Email / Contact.MobilePhone",
        "workEmail / mobilePhone",
        "Taken from the account's billing contact when the plan knows one (the Bill To "
        "contact of an order being synced); otherwise left out.",
        documented=False,
    ),
    _r(
        "account.parent",
        "Account.ParentId",
        "parentId",
        "The Zuora id of the parent's account, found by crmId; a parent missing from Zuora is "
        "planned and created first.",
    ),
    _r(
        "account.update",
        "(an account already in Zuora, when the user asks to update)",
        "PUT /v1/accounts/{id}",
        "Sends name, notes, salesRep and the Bill To / Sold To contacts only. Currency, bill "
        "cycle day, autoPay, crmId and parent are left as they are in Zuora.",
        documented=False,
    ),
    # Order
    _r("order.number", "Order.OrderNumber", "orderNumber", "Copied; it links the two records."),
    _r(
        "order.date",
        "Order.EffectiveDate",
        "orderDate",
        "The calendar date as Salesforce stores it (YYYY-MM-DD), never converted through a "
        "time zone.",
    ),
    _r(
        "order.description",
        "Order.Description",
        "description",
        "Copied, cut to Zuora's 500 characters.",
    ),
    _r(
        "order.account",
        "Order.AccountId",
        "existingAccountNumber",
        "The Zuora account number of the order's account, found by crmId; an account missing "
        "from Zuora is planned and created first.",
    ),
    _r(
        "order.subscription",
        "Order products with subscription pricing or a Recurring charge",
        "subscriptions[0] (CreateSubscription)",
        "All subscription products of an order go into one new subscription, one rate plan "
        "per order product.",
    ),
    _r(
        "order.limit",
        "Number of order products",
        "(whole order)",
        f"At most {MAX_ORDER_PRODUCTS} order products per order (the connector's limit of 50 "
        "related objects). A larger order is not sent; it is not split, because Zuora would "
        "then hold several orders for one Salesforce order.",
        documented=False,
    ),
    _r(
        "order.rate_plan",
        "OrderItem.Product2Id / Product2.ProductCode",
        "subscribeToRatePlans[].productRatePlanId",
        "The catalog rate plan whose externallyManagedPlanId is the Product2 Id; else the "
        "rate plan of the product with that SKU (ProductCode). None found, or more than one: "
        "the order is not sent.",
    ),
    _r(
        "order.rate_plan_link",
        "OrderItem.Id",
        "subscribeToRatePlans[].externallyManagedPlanId",
        "Copied; it links the order product to the subscription rate plan.",
    ),
    _r(
        "order.price",
        "OrderItem.UnitPrice / Quantity",
        "chargeOverrides[].pricing",
        "The net unit price overrides the list price and the quantity the quantity of the rate "
        "plan's first recurring charge (or its first charge when none recurs). Per-unit "
        "charges take both; flat-fee charges take the price only.",
    ),
    _r(
        "order.term",
        "OrderItem.SBQQ__SubscriptionTerm__c",
        "terms.initialTerm (TERMED, Month)",
        "The longest subscription term (months) of the order's subscription products. Blank: "
        "the CPQ default subscription term, else 12 months. Different terms on one order are "
        "shown as a warning. EVERGREEN when every subscription product is of type Evergreen.",
        documented=False,
    ),
    _r(
        "order.term_start",
        "OrderItem.ServiceDate",
        "terms.initialTerm.startDate",
        "The earliest start date of the subscription products (the order's EffectiveDate when "
        "blank). A product starting later gets that date as its charges' specific trigger date.",
    ),
    _r(
        "order.renewal",
        "Order.SBQQ__RenewalTerm__c",
        "terms.renewalSetting / renewalTerms / autoRenew",
        "RENEW_WITH_SPECIFIC_TERM for the renewal term in months (the initial term when "
        "blank); autoRenew false.",
        documented=False,
    ),
    _r(
        "order.trigger_dates",
        "(start of term)",
        "orderActions[].triggerDates",
        "Only ContractEffective, on the term start date (the connector's default).",
    ),
    _r(
        "order.line_items",
        "Order products without subscription pricing and not Recurring",
        "orderLineItems[]",
        "One line item each: itemName = product name, productCode = ProductCode, "
        "productRatePlanChargeId = the catalog's one-time charge, quantity, amountPerUnit = "
        "UnitPrice, listPricePerUnit = ListPrice, transactionStartDate = ServiceDate (or the "
        "order date), itemType Product.",
        documented=False,
    ),
    _r(
        "order.processing",
        "(none)",
        "processingOptions",
        "runBilling and collectPayment false: a sync never invoices or charges anyone.",
        documented=False,
    ),
    _r(
        "order.currency",
        "Order.CurrencyIsoCode",
        "(checked only)",
        "Zuora bills a subscription in its account's currency; an order in another currency "
        "than its account is not sent.",
        documented=False,
    ),
)

_RULES_BY_ID = {rule.id: rule for rule in MAPPING_RULES}


def rule_text(rule_id: str) -> str:
    """``Salesforce → Zuora: rule`` for one rule id, as a plan shows it."""
    rule = _RULES_BY_ID[rule_id]
    return f"{rule.salesforce} → {rule.zuora}: {rule.rule}"
