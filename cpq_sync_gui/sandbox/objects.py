"""The simulated org's sObjects and fields, as a real CPQ org's describe reports them."""

from __future__ import annotations

from cpq_sync_gui.sandbox.schema import ChildRelationship, FieldDef, Schema, SObjectDef

# Active currencies of a multi-currency org; the first is the corporate currency.
CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP", "JPY")

ACCOUNT_TYPES = (
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
)
ACCOUNT_INDUSTRIES = (
    "Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications",
    "Construction", "Consulting", "Education", "Electronics", "Energy", "Engineering",
    "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government", "Healthcare",
    "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media", "Not For Profit",
    "Recreation", "Retail", "Shipping", "Technology", "Telecommunications", "Transportation",
    "Utilities", "Other",
)  # fmt: skip
PRODUCT_FAMILIES = ("Platform", "Add-On", "Support", "Services", "Training", "Hardware")
CHARGE_TYPES = ("One-Time", "Recurring", "Usage")
BILLING_TYPES = ("Advance", "Arrears")
BILLING_FREQUENCIES = ("Monthly", "Quarterly", "Semiannual", "Annual", "Invoice Plan", "Usage")
SUBSCRIPTION_PRICING = ("Fixed Price", "Percent Of Total")
SUBSCRIPTION_TYPES = ("Renewable", "One-time", "Evergreen")
ORDER_STATUSES = ("Draft", "Activated")
ORDER_TYPES = ("New", "Renewal", "Amendment")
PAYMENT_TERMS = ("Due on Receipt", "Net 15", "Net 30", "Net 45", "Net 60", "Net 90")
CONTRACTING_METHODS = ("By Subscription End Date", "Single Contract", "Contract Separately")
PRICE_CALC_STATUSES = ("Not Needed", "Not Started", "Queued", "In Progress", "Completed", "Failed")


def _field(
    name: str,
    type_: str,
    label: str,
    length: int = 0,
    *,
    nillable: bool = True,
    picklist: tuple[str, ...] = (),
    reference_to: str | None = None,
    relationship_name: str | None = None,
) -> FieldDef:
    if type_ == "picklist" and not length:
        length = 255
    if type_ in ("id", "reference"):
        length = 18
    return FieldDef(
        name=name,
        type=type_,
        label=label,
        reference_to=reference_to,
        relationship_name=relationship_name,
        nillable=nillable,
        length=length,
        picklist_values=picklist,
        custom=name.endswith("__c"),
    )


def _ref(name: str, to: str, relationship: str, label: str, *, nillable: bool = True) -> FieldDef:
    return _field(
        name, "reference", label, reference_to=to, relationship_name=relationship, nillable=nillable
    )


def _system_fields(label: str, *, deletable: bool = True) -> list[FieldDef]:
    fields = [_field("Id", "id", f"{label} ID", nillable=False)]
    if deletable:
        fields.append(_field("IsDeleted", "boolean", "Deleted", nillable=False))
    return [
        *fields,
        _field("CreatedDate", "datetime", "Created Date", nillable=False),
        _ref("CreatedById", "User", "CreatedBy", "Created By ID", nillable=False),
        _field("LastModifiedDate", "datetime", "Last Modified Date", nillable=False),
        _ref("LastModifiedById", "User", "LastModifiedBy", "Last Modified By ID", nillable=False),
        _field("SystemModstamp", "datetime", "System Modstamp", nillable=False),
    ]


def _owner() -> FieldDef:
    return _ref("OwnerId", "User", "Owner", "Owner ID", nillable=False)


def _address(prefix: str, label: str) -> list[FieldDef]:
    """A compound address's parts, e.g. BillingStreet … BillingCountry (no State/Country codes:
    the org has no state and country picklists)."""
    return [
        _field(f"{prefix}Street", "textarea", f"{label} Street", 255),
        _field(f"{prefix}City", "string", f"{label} City", 40),
        _field(f"{prefix}State", "string", f"{label} State/Province", 80),
        _field(f"{prefix}PostalCode", "string", f"{label} Zip/Postal Code", 20),
        _field(f"{prefix}Country", "string", f"{label} Country", 80),
    ]


def _currency_field(multi_currency: bool, label: str = "Currency ISO Code") -> list[FieldDef]:
    if not multi_currency:
        return []
    return [_field("CurrencyIsoCode", "picklist", label, 3, nillable=False, picklist=CURRENCIES)]


def _sobject(
    name: str,
    label: str,
    plural: str,
    prefix: str,
    fields: list[FieldDef],
    children: tuple[ChildRelationship, ...] = (),
) -> SObjectDef:
    by_name: dict[str, FieldDef] = {}
    for f in fields:
        if f.name in by_name:
            raise ValueError(f"{name}.{f.name} defined twice")
        by_name[f.name] = f
    return SObjectDef(
        name=name,
        label=label,
        label_plural=plural,
        key_prefix=prefix,
        fields=by_name,
        child_relationships={c.name: c for c in children},
    )


def _account(multi_currency: bool) -> SObjectDef:
    fields = [
        *_system_fields("Account"),
        _field("Name", "string", "Account Name", 255, nillable=False),
        _field("AccountNumber", "string", "Account Number", 40),
        _field("Type", "picklist", "Account Type", picklist=ACCOUNT_TYPES),
        _ref("ParentId", "Account", "Parent", "Parent Account ID"),
        *_address("Billing", "Billing"),
        *_address("Shipping", "Shipping"),
        _field("Phone", "phone", "Account Phone", 40),
        _field("Website", "url", "Website", 255),
        _field("Industry", "picklist", "Industry", picklist=ACCOUNT_INDUSTRIES),
        _field("Description", "textarea", "Account Description", 32000),
        *_currency_field(multi_currency, "Account Currency"),
        _owner(),
    ]
    return _sobject(
        "Account",
        "Account",
        "Accounts",
        "001",
        fields,
        (
            ChildRelationship("ChildAccounts", "Account", "ParentId"),
            ChildRelationship("Contacts", "Contact", "AccountId"),
            ChildRelationship("Orders", "Order", "AccountId"),
        ),
    )


def _contact(multi_currency: bool) -> SObjectDef:
    fields = [
        *_system_fields("Contact"),
        _ref("AccountId", "Account", "Account", "Account ID"),
        _field("LastName", "string", "Last Name", 80, nillable=False),
        _field("FirstName", "string", "First Name", 40),
        _field(
            "Salutation", "picklist", "Salutation", picklist=("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")
        ),
        _field("Name", "string", "Full Name", 121, nillable=False),
        *_address("Mailing", "Mailing"),
        _field("Phone", "phone", "Business Phone", 40),
        _field("MobilePhone", "phone", "Mobile Phone", 40),
        _field("Email", "email", "Email", 80),
        _field("Title", "string", "Title", 128),
        _field("Description", "textarea", "Contact Description", 32000),
        *_currency_field(multi_currency, "Contact Currency"),
        _owner(),
    ]
    return _sobject("Contact", "Contact", "Contacts", "003", fields)


def _order(cpq: bool, multi_currency: bool) -> SObjectDef:
    fields = [
        *_system_fields("Order"),
        _owner(),
        _ref("ContractId", "Contract", "Contract", "Contract ID"),
        _ref("AccountId", "Account", "Account", "Account ID"),
        _ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Price Book ID"),
        _field("EffectiveDate", "date", "Order Start Date", nillable=False),
        _field("EndDate", "date", "Order End Date"),
        _field("Status", "picklist", "Status", 40, nillable=False, picklist=ORDER_STATUSES),
        _field(
            "StatusCode", "picklist", "Status Category", 40, nillable=False, picklist=ORDER_STATUSES
        ),
        _field("Description", "textarea", "Description", 32000),
        _field("Type", "picklist", "Order Type", picklist=ORDER_TYPES),
        *_address("Billing", "Billing"),
        *_address("Shipping", "Shipping"),
        _field("Name", "string", "Order Name", 80),
        _field("PoNumber", "string", "PO Number", 80),
        _ref("BillToContactId", "Contact", "BillToContact", "Bill To Contact ID"),
        _ref("ShipToContactId", "Contact", "ShipToContact", "Ship To Contact ID"),
        _field("ActivatedDate", "datetime", "Activated Date"),
        _ref("ActivatedById", "User", "ActivatedBy", "Activated By ID"),
        _field("OrderNumber", "string", "Order Number", 30, nillable=False),
        _field("TotalAmount", "currency", "Order Amount", nillable=False),
        *_currency_field(multi_currency, "Order Currency"),
    ]
    if cpq:
        fields += [
            _ref("SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r", "Quote"),
            _field("SBQQ__PaymentTerm__c", "picklist", "Payment Term", picklist=PAYMENT_TERMS),
            _field("SBQQ__Contracted__c", "boolean", "Contracted", nillable=False),
            _field(
                "SBQQ__ContractingMethod__c",
                "picklist",
                "Contracting Method",
                picklist=CONTRACTING_METHODS,
            ),
            _field("SBQQ__RenewalTerm__c", "double", "Renewal Term"),
            _field(
                "SBQQ__PriceCalcStatus__c",
                "picklist",
                "Price Calculation Status",
                picklist=PRICE_CALC_STATUSES,
            ),
        ]
    return _sobject(
        "Order",
        "Order",
        "Orders",
        "801",
        fields,
        (ChildRelationship("OrderItems", "OrderItem", "OrderId"),),
    )


def _order_item(cpq: bool, multi_currency: bool) -> SObjectDef:
    fields = [
        *_system_fields("Order Product"),
        _ref("Product2Id", "Product2", "Product2", "Product ID"),
        _ref("OrderId", "Order", "Order", "Order ID", nillable=False),
        _ref(
            "PricebookEntryId",
            "PricebookEntry",
            "PricebookEntry",
            "Price Book Entry ID",
            nillable=False,
        ),
        _field("Quantity", "double", "Quantity", nillable=False),
        _field("UnitPrice", "currency", "Unit Price", nillable=False),
        _field("ListPrice", "currency", "List Price"),
        _field("TotalPrice", "currency", "Total Price"),
        _field("ServiceDate", "date", "Start Date"),
        _field("EndDate", "date", "End Date"),
        _field("Description", "string", "Line Description", 255),
        _field("OrderItemNumber", "string", "Order Product Number", 10, nillable=False),
        *_currency_field(multi_currency, "Currency ISO Code"),
    ]
    if cpq:
        fields += [
            _field("SBQQ__ChargeType__c", "picklist", "Charge Type", picklist=CHARGE_TYPES),
            _field("SBQQ__BillingType__c", "picklist", "Billing Type", picklist=BILLING_TYPES),
            _field(
                "SBQQ__BillingFrequency__c",
                "picklist",
                "Billing Frequency",
                picklist=BILLING_FREQUENCIES,
            ),
            _field("SBQQ__SubscriptionTerm__c", "double", "Subscription Term"),
            _field("SBQQ__DefaultSubscriptionTerm__c", "double", "Default Subscription Term"),
            _field(
                "SBQQ__SubscriptionPricing__c",
                "picklist",
                "Subscription Pricing",
                picklist=SUBSCRIPTION_PRICING,
            ),
            _field(
                "SBQQ__SubscriptionType__c",
                "picklist",
                "Subscription Type",
                picklist=SUBSCRIPTION_TYPES,
            ),
            _ref("SBQQ__QuoteLine__c", "SBQQ__QuoteLine__c", "SBQQ__QuoteLine__r", "Quote Line"),
        ]
    return _sobject("OrderItem", "Order Product", "Order Products", "802", fields)


def _product(cpq: bool, multi_currency: bool) -> SObjectDef:
    fields = [
        *_system_fields("Product"),
        _field("Name", "string", "Product Name", 255, nillable=False),
        _field("ProductCode", "string", "Product Code", 255),
        _field("Description", "textarea", "Product Description", 4000),
        _field("IsActive", "boolean", "Active", nillable=False),
        _field("Family", "picklist", "Product Family", picklist=PRODUCT_FAMILIES),
        *_currency_field(multi_currency, "Product Currency"),
    ]
    if cpq:
        fields += [
            _field("SBQQ__ChargeType__c", "picklist", "Charge Type", picklist=CHARGE_TYPES),
            _field("SBQQ__BillingType__c", "picklist", "Billing Type", picklist=BILLING_TYPES),
            _field(
                "SBQQ__BillingFrequency__c",
                "picklist",
                "Billing Frequency",
                picklist=BILLING_FREQUENCIES,
            ),
            _field("SBQQ__SubscriptionTerm__c", "double", "Subscription Term"),
            _field(
                "SBQQ__SubscriptionPricing__c",
                "picklist",
                "Subscription Pricing",
                picklist=SUBSCRIPTION_PRICING,
            ),
            _field(
                "SBQQ__SubscriptionType__c",
                "picklist",
                "Subscription Type",
                picklist=SUBSCRIPTION_TYPES,
            ),
        ]
    return _sobject("Product2", "Product", "Products", "01t", fields)


def _pricebook() -> SObjectDef:
    fields = [
        *_system_fields("Price Book"),
        _field("Name", "string", "Price Book Name", 255, nillable=False),
        _field("IsActive", "boolean", "Active", nillable=False),
        _field("IsStandard", "boolean", "Is Standard Price Book", nillable=False),
        _field("Description", "string", "Description", 255),
    ]
    return _sobject("Pricebook2", "Price Book", "Price Books", "01s", fields)


def _pricebook_entry(multi_currency: bool) -> SObjectDef:
    fields = [
        *_system_fields("Price Book Entry"),
        _field("Name", "string", "Product Name", 255),
        _ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Price Book ID", nillable=False),
        _ref("Product2Id", "Product2", "Product2", "Product ID", nillable=False),
        _field("UnitPrice", "currency", "List Price", nillable=False),
        _field("IsActive", "boolean", "Active", nillable=False),
        _field("UseStandardPrice", "boolean", "Use Standard Price", nillable=False),
        _field("ProductCode", "string", "Product Code", 255),
        *_currency_field(multi_currency, "Currency ISO Code"),
    ]
    return _sobject("PricebookEntry", "Price Book Entry", "Price Book Entries", "01u", fields)


def _user() -> SObjectDef:
    fields = [
        *_system_fields("User", deletable=False),
        _field("Username", "string", "Username", 80, nillable=False),
        _field("LastName", "string", "Last Name", 80, nillable=False),
        _field("FirstName", "string", "First Name", 40),
        _field("Name", "string", "Full Name", 121, nillable=False),
        _field("Alias", "string", "Alias", 8, nillable=False),
        _field("Email", "email", "Email", 128, nillable=False),
        _field("IsActive", "boolean", "Active", nillable=False),
        _field("TimeZoneSidKey", "picklist", "Time Zone", 40, nillable=False),
        _field("LocaleSidKey", "picklist", "Locale", 40, nillable=False),
        _field("LanguageLocaleKey", "picklist", "Language", 40, nillable=False),
    ]
    return _sobject("User", "User", "Users", "005", fields)


def _organization() -> SObjectDef:
    fields = [
        *_system_fields("Organization", deletable=False),
        _field("Name", "string", "Name", 80, nillable=False),
        _field("Division", "string", "Division", 80),
        _field("Street", "textarea", "Street", 255),
        _field("City", "string", "City", 40),
        _field("State", "string", "State/Province", 80),
        _field("PostalCode", "string", "Zip/Postal Code", 20),
        _field("Country", "string", "Country", 80),
        _field("Phone", "phone", "Phone", 40),
        _field("PrimaryContact", "string", "Primary Contact", 80),
        _field("DefaultLocaleSidKey", "picklist", "Locale", 40, nillable=False),
        _field("LanguageLocaleKey", "picklist", "Language", 40, nillable=False),
        _field("TimeZoneSidKey", "picklist", "Default Time Zone", 40, nillable=False),
        # The org currency. Real orgs document it for single-currency orgs; multi-currency orgs
        # also mark the corporate currency in CurrencyType.IsCorporate. Present in both here.
        _field("DefaultCurrencyIsoCode", "picklist", "Currency Locale", 40, picklist=CURRENCIES),
        _field("InstanceName", "string", "Instance Name", 5),
        _field("IsSandbox", "boolean", "Is Sandbox", nillable=False),
        _field(
            "OrganizationType",
            "picklist",
            "Edition",
            40,
            picklist=(
                "Developer Edition",
                "Professional Edition",
                "Enterprise Edition",
                "Unlimited Edition",
                "Performance Edition",
            ),
        ),
        _field("NamespacePrefix", "string", "Namespace Prefix", 15),
        _field("TrialExpirationDate", "datetime", "Trial Expiration Date"),
    ]
    return _sobject("Organization", "Organization", "Organizations", "00D", fields)


def _currency_type() -> SObjectDef:
    fields = [
        *_system_fields("Currency Type", deletable=False),
        _field("IsoCode", "picklist", "Currency ISO Code", 40, nillable=False, picklist=CURRENCIES),
        _field("ConversionRate", "double", "Conversion Rate", nillable=False),
        _field("DecimalPlaces", "int", "Decimal Places", nillable=False),
        _field("IsActive", "boolean", "Active", nillable=False),
        _field("IsCorporate", "boolean", "Corporate Currency", nillable=False),
    ]
    return _sobject("CurrencyType", "Currency Type", "Currency Types", "02B", fields)


def _web_link() -> SObjectDef:
    fields = [
        *_system_fields("Custom Button or Link", deletable=False),
        _field("PageOrSobjectType", "picklist", "S-Control Type", 40, nillable=False),
        _field("Name", "string", "Custom Button or Link Name", 240, nillable=False),
        _field("MasterLabel", "string", "Label", 240),
        _field("NamespacePrefix", "string", "Namespace Prefix", 15),
        _field("Description", "textarea", "Description", 1000),
        _field(
            "DisplayType",
            "picklist",
            "Display Type",
            40,
            nillable=False,
            picklist=("button", "link", "massActionButton"),
        ),
        _field(
            "LinkType",
            "picklist",
            "Content Source",
            40,
            nillable=False,
            picklist=("url", "sControl", "javascript", "page", "flow"),
        ),
        _field(
            "OpenType",
            "picklist",
            "Behavior",
            40,
            nillable=False,
            picklist=("newWindow", "sidebar", "noSidebar", "replace", "onClickJavaScript"),
        ),
        _field("Url", "textarea", "Button or Link URL", 1048576),
        _field("EncodingKey", "picklist", "Link Encoding", 40, nillable=False),
        _field("Height", "int", "Height (in pixels)"),
        _field("Width", "int", "Width (in pixels)"),
        _field(
            "Position",
            "picklist",
            "Window Position",
            40,
            picklist=("fullScreen", "none", "topLeft"),
        ),
        _field("HasScrollbars", "boolean", "Show Scrollbars", nillable=False),
        _field("IsResizable", "boolean", "Resizeable", nillable=False),
        _field("RequireRowSelection", "boolean", "Require Row Selection", nillable=False),
    ]
    return _sobject("WebLink", "Custom Button or Link", "Custom Buttons or Links", "00b", fields)


def org_schema(cpq: bool = True, multi_currency: bool = True) -> Schema:
    """Every sObject of the simulated org by API name.

    ``cpq=False`` simulates an org without the Salesforce CPQ package (no ``SBQQ__`` fields);
    ``multi_currency=False`` an org without multi-currency (no ``CurrencyIsoCode`` fields and
    no CurrencyType object). References to Contract, SBQQ__Quote__c and SBQQ__QuoteLine__c are
    described but those objects are not simulated: such fields are always null.
    """
    objects = [
        _account(multi_currency),
        _contact(multi_currency),
        _order(cpq, multi_currency),
        _order_item(cpq, multi_currency),
        _product(cpq, multi_currency),
        _pricebook(),
        _pricebook_entry(multi_currency),
        _user(),
        _organization(),
        _web_link(),
    ]
    if multi_currency:
        objects.append(_currency_type())
    return {o.name: o for o in objects}
