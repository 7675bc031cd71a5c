"""Deterministic, realistic records for the simulated org, and the Zuora catalog that matches them."""

from __future__ import annotations

import calendar
import itertools
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from cpq_sync_gui.salesforce.ids import IdFactory
from cpq_sync_gui.sandbox.catalog import CatalogCharge, CatalogProduct, CatalogRatePlan
from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.objects import ACCOUNT_INDUSTRIES, CURRENCIES, org_schema
from cpq_sync_gui.sandbox.org import OrgStore, Record
from cpq_sync_gui.sandbox.schema import Schema

__all__ = [
    "AWKWARD_ACCOUNT_NAMES",
    "ORGANIZATION_NAME",
    "ORG_CURRENCY",
    "PRODUCTS",
    "GeneratedOrg",
    "ProductSpec",
    "add_months",
    "generate_org",
]

ORGANIZATION_NAME = "CPQ Sync Demo Org"
ORG_CURRENCY = "USD"  # the corporate currency; the only one when multi-currency is off
USER_DOMAIN = "cpqsync-demo.example.com"

# Conversion from USD list prices, and decimal places, per currency.
_RATES = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "JPY": 150.0}
_DECIMALS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0}


_LONG_NAME_WORDS = (
    "Consolidated", "International", "Holdings", "Trading", "Logistics", "Engineering",
    "Services", "Manufacturing", "Distribution", "Partners", "Worldwide", "Enterprises",
)  # fmt: skip


def _name_of_length(length: int) -> str:
    words = itertools.cycle(_LONG_NAME_WORDS)
    name = "The Extremely Long Named"
    while len(name) < length:
        name += " " + next(words)
    name = name[:length]
    return name if not name.endswith(" ") else name[:-1] + "X"


AWKWARD_ACCOUNT_NAMES: tuple[str, ...] = (
    "O'Brien & Sons",
    "100% Natural Foods",
    "a_b\\c Labs",
    "Müller Großhandel GmbH",
    "株式会社サンプル",
    "شركة المثال",  # right-to-left
    "Rocket 🚀 Labs",
    'Smith "The Best" Ltd',
    _name_of_length(255),  # the longest name Account.Name holds
)
"""Account names that trip up escaping, encodings and length limits: all present from 20 accounts."""
_AWKWARD_INDEXES = tuple(range(1, 2 * len(AWKWARD_ACCOUNT_NAMES), 2))  # 1, 3, …, 17


@dataclass(frozen=True)
class ProductSpec:
    """One Product2 of the generated org. Prices are per billing period (per unit for one-time)."""

    code: str
    name: str
    family: str
    usd_price: float
    frequency: str | None  # CPQ billing frequency: Monthly/Quarterly/Annual; None = one-time
    in_zuora: bool = True
    active: bool = True
    weight: float = 1.0  # how often orders pick it

    @property
    def recurring(self) -> bool:
        return self.frequency is not None


_R, _O = "Recurring", "One-Time"
PRODUCTS: tuple[ProductSpec, ...] = (
    ProductSpec("SKU-PLAT-001", "Platform Starter", "Platform", 49.0, "Monthly", weight=5),
    ProductSpec("SKU-PLAT-002", "Platform Professional", "Platform", 99.0, "Monthly", weight=5),
    ProductSpec("SKU-PLAT-003", "Platform Enterprise", "Platform", 9600.0, "Annual", weight=5),
    ProductSpec("SKU-PLAT-004", "Platform Enterprise Plus", "Platform", 18000.0, "Annual", weight=4),
    ProductSpec("SKU-PLAT-005", "Platform Team Seats", "Platform", 270.0, "Quarterly", weight=4),
    ProductSpec("SKU-ADD-001", "Advanced Analytics", "Add-On", 25.0, "Monthly", weight=3),
    ProductSpec("SKU-ADD-002", "API Access Pack", "Add-On", 15.0, "Monthly", weight=3),
    ProductSpec("SKU-ADD-003", "Extra Storage 100 GB", "Add-On", 10.0, "Monthly", weight=3),
    ProductSpec("SKU-ADD-004", "Single Sign-On", "Add-On", 1200.0, "Annual", weight=3),
    ProductSpec("SKU-ADD-005", "Sandbox Environment", "Add-On", 450.0, "Quarterly", weight=2),
    ProductSpec("SKU-ADD-006", "Audit Log Retention", "Add-On", 600.0, "Annual", weight=2),
    ProductSpec("SKU-ADD-007", "Workflow Automation", "Add-On", 30.0, "Monthly", weight=3),
    ProductSpec("SKU-ADD-008", "Data Residency (EU)", "Add-On", 2400.0, "Annual", weight=1),
    ProductSpec("SKU-SUP-001", "Standard Support", "Support", 1000.0, "Annual", weight=3),
    ProductSpec("SKU-SUP-002", "Premium Support", "Support", 3000.0, "Annual", weight=3),
    ProductSpec("SKU-SUP-003", "24/7 Mission-Critical Support", "Support", 2500.0, "Quarterly", weight=2),
    ProductSpec("SKU-SUP-004", "Technical Account Manager", "Support", 1500.0, "Monthly", weight=1),
    ProductSpec("SKU-SVC-001", "Implementation Services", "Services", 5000.0, None, weight=2),
    ProductSpec("SKU-SVC-002", "Data Migration", "Services", 3500.0, None, weight=2),
    ProductSpec("SKU-SVC-003", "Custom Integration Sprint", "Services", 8000.0, None, in_zuora=False, weight=0.4),
    ProductSpec("SKU-SVC-004", "Health Check", "Services", 1500.0, None, weight=2),
    ProductSpec("SKU-SVC-005", "Onboarding Package", "Services", 2000.0, None, weight=2),
    ProductSpec("SKU-TRN-001", "Admin Training (per seat)", "Training", 450.0, None, weight=1.5),
    ProductSpec("SKU-TRN-002", "End-User Training Workshop", "Training", 1200.0, None, weight=1.5),
    ProductSpec("SKU-TRN-003", "Certification Voucher", "Training", 200.0, None, weight=1.5),
    ProductSpec("SKU-HW-001", "Security Key", "Hardware", 45.0, None, weight=1),
    ProductSpec("SKU-HW-002", "Barcode Scanner", "Hardware", 180.0, None, weight=1),
    ProductSpec("SKU-HW-003", "Kiosk Tablet", "Hardware", 499.0, None, weight=1),
    ProductSpec("SKU-LEG-001", "Legacy Reporting Module", "Add-On", 20.0, "Monthly", in_zuora=False, active=False, weight=0.4),
    ProductSpec("SKU-BETA-001", "AI Assistant (Beta)", "Add-On", 35.0, "Monthly", in_zuora=False, weight=0.4),
)  # fmt: skip
"""The org's products; the ``in_zuora=False`` ones are deliberately missing from the catalog."""

_ZUORA_PERIOD = {
    "Monthly": "Month",
    "Quarterly": "Quarter",
    "Semiannual": "Semi-Annual",
    "Annual": "Annual",
}


@dataclass(frozen=True)
class _Country:
    name: str
    weight: float
    currency: str
    needs_state: bool  # a billing address here is incomplete without a state/province
    number_first: bool  # "12 Main Street" (True) or "Hauptstraße 12" (False)
    phone: str  # format: '#' is a digit
    suffixes: tuple[str, ...]
    streets: tuple[str, ...]
    # (city, state or None, postal code pattern: '#' a digit, '@' a letter)
    cities: tuple[tuple[str, str | None, str], ...]


_COUNTRIES: tuple[_Country, ...] = (
    _Country(
        "United States", 55, "USD", True, True, "+1 (###) 555-01##",
        ("Inc.", "LLC", "Corp.", "Co.", "Inc."),
        ("Market Street", "Main Street", "Oak Avenue", "Broadway", "Mission Street", "Elm Street", "Congress Avenue", "Peachtree Road"),
        (("San Francisco", "CA", "941##"), ("New York", "NY", "100##"), ("Austin", "TX", "787##"),
         ("Chicago", "IL", "606##"), ("Seattle", "WA", "981##"), ("Boston", "MA", "021##"),
         ("Denver", "CO", "802##"), ("Atlanta", "GA", "303##"), ("Portland", "OR", "972##")),
    ),
    _Country(
        "Canada", 6, "USD", True, True, "+1 (###) 555-01##",
        ("Inc.", "Ltd.", "Corp."),
        ("King Street West", "Yonge Street", "Robson Street", "Rue Sainte-Catherine"),
        (("Toronto", "ON", "M5V #@#"), ("Vancouver", "BC", "V6B #@#"), ("Montréal", "QC", "H3B #@#")),
    ),
    _Country(
        "Australia", 4, "USD", True, True, "+61 2 #### ####",
        ("Pty Ltd",),
        ("George Street", "Collins Street", "Queen Street"),
        (("Sydney", "NSW", "2000"), ("Melbourne", "VIC", "3000"), ("Brisbane", "QLD", "4000")),
    ),
    _Country(
        "United Kingdom", 10, "GBP", False, True, "+44 20 7946 0###",
        ("Ltd", "plc", "LLP"),
        ("High Street", "King's Road", "Deansgate", "Victoria Street"),
        (("London", "Greater London", "EC1A #@@"), ("Manchester", "Greater Manchester", "M1 #@@"),
         ("Edinburgh", "Scotland", "EH1 #@@")),
    ),
    _Country(
        "Germany", 8, "EUR", False, False, "+49 30 #######",
        ("GmbH", "AG", "GmbH & Co. KG"),
        ("Hauptstraße", "Bahnhofstraße", "Friedrichstraße", "Königsallee"),
        (("Berlin", "Berlin", "10###"), ("München", "Bayern", "80###"), ("Hamburg", "Hamburg", "20###")),
    ),
    _Country(
        "France", 5, "EUR", False, True, "+33 1 ## ## ## ##",
        ("SAS", "SA", "SARL"),
        ("rue de Rivoli", "avenue des Champs-Élysées", "rue de la République"),
        (("Paris", "Île-de-France", "750##"), ("Lyon", "Auvergne-Rhône-Alpes", "6900#")),
    ),
    _Country(
        "Netherlands", 3, "EUR", False, False, "+31 20 ### ####",
        ("B.V.", "N.V."),
        ("Keizersgracht", "Herengracht", "Coolsingel"),
        (("Amsterdam", "Noord-Holland", "10## @@"), ("Rotterdam", "Zuid-Holland", "30## @@")),
    ),
    _Country(
        "Ireland", 2, "EUR", False, True, "+353 1 ### ####",
        ("Ltd", "DAC"),
        ("Grafton Street", "Baggot Street"),
        (("Dublin", "Co. Dublin", "D02 @###"), ("Cork", "Co. Cork", "T12 @###")),
    ),
    _Country(
        "Japan", 5, "JPY", False, True, "+81 3-####-####",
        ("K.K.", "Co., Ltd."),
        ("Marunouchi", "Shibuya", "Umeda"),
        (("Chiyoda-ku", "Tokyo", "100-####"), ("Osaka", "Osaka", "530-####")),
    ),
    _Country(
        "Singapore", 2, "USD", False, True, "+65 6### ####",
        ("Pte. Ltd.",),
        ("Raffles Place", "Orchard Road"),
        (("Singapore", None, "04####"),),
    ),
)  # fmt: skip
_STATE_COUNTRIES = tuple(c for c in _COUNTRIES if c.needs_state)

_ADJECTIVES = (
    "Blue", "Northern", "Summit", "Pioneer", "Silver", "Granite", "Harbor", "Evergreen", "Red",
    "Atlas", "Bright", "Cedar", "Crescent", "Delta", "Eagle", "Falcon", "Golden", "Iron", "Lunar",
    "Maple", "Nova", "Oak", "Pacific", "Quantum", "Rapid", "Sierra", "Solar", "Swift", "Tidal",
    "Union", "Vertex", "West", "Zenith", "Amber", "Coastal", "Prairie", "Copper", "Orbit",
)  # fmt: skip
_NOUNS = (
    "Ridge", "River", "Peak", "Bay", "Field", "Stone", "Point", "Bridge", "Valley", "Lake",
    "Forge", "Works", "Wave", "Path", "Grove", "Harbor", "Mill", "Gate", "Crest", "Spring",
    "Rock", "Wind", "Star", "Line", "Bloom", "Sky", "Hill", "Port",
)  # fmt: skip
_TRADES = (
    "Logistics", "Analytics", "Foods", "Systems", "Energy", "Health", "Robotics", "Software",
    "Partners", "Manufacturing", "Labs", "Media", "Capital", "Consulting", "Networks", "Retail",
    "Biotech", "Freight", "Studios", "Outfitters", "Supply", "Dynamics", "Solutions", "Medical",
)  # fmt: skip
_FIRST_NAMES = (
    "James", "Maria", "Wei", "Aisha", "Liam", "Sofia", "Noah", "Emma", "Hiroshi", "Priya",
    "Lukas", "Chloé", "Mateo", "Zoë", "Olivia", "Ethan", "Fatima", "Søren", "Ana", "Daniel",
    "Yuki", "Grace", "Ömer", "Isabella", "Kwame", "Łukasz", "Mia", "Rafael", "Sara", "Tom",
    "Elena", "Jonas", "Nadia", "Oliver", "Chen", "Amara", "José", "Hannah", "Arjun", "Lucy",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "García", "Chen", "Patel", "Müller", "O'Neil", "Nguyen", "Kowalski", "Tanaka",
    "Johnson", "Rossi", "van der Berg", "Dubois", "Silva", "Okafor", "Andersson", "Kim", "Brown",
    "Schmidt", "Martin", "Lee", "Wilson", "Haddad", "Novak", "Fischer", "Murphy", "Ito",
    "Fernández", "Taylor", "Moore", "D'Angelo", "Sato", "Johansson", "Williams", "Clark", "Singh",
)  # fmt: skip
_TITLES = (
    "CFO", "Controller", "Accounts Payable Manager", "VP Finance", "Procurement Lead", "CEO",
    "IT Director", "Billing Specialist", "Operations Manager", None,
)  # fmt: skip
_ACCOUNT_NOTES = (
    "Key account. Renewal handled by procurement.",
    'Prefers "Net 45" terms; invoices by e-mail only.',
    "Migrated from the legacy billing system.\nCheck historical invoices before changes.",
    "Reseller: bill the end customer's parent, not the site.",
    "Tax-exempt (certificate on file) – see attachments.",
)
_ORDER_NOTES = (
    "Expansion after successful pilot.",
    "Renewal with uplift.",
    "Signed via DocuSign; PO to follow.",
    "Co-term with existing subscription.\nStart date agreed with customer.",
    "Includes 10% multi-year discount.",
)
_DISCOUNTS = (0.0, 0.0, 0.0, 0.0, 0.05, 0.10, 0.10, 0.15, 0.20)


@dataclass
class GeneratedOrg:
    """What :func:`generate_org` built. Credentials are made by the server, not here."""

    org: OrgStore
    catalog: list[CatalogProduct]  # what the simulated Zuora tenant's catalog should hold
    users: list[Record]  # the org's User records; users[0] is the integration (API) user
    organization_id: str  # the 00D… id
    products_missing_from_zuora: list[str]  # Product2 ids that the catalog deliberately lacks
    org_currency: str = ORG_CURRENCY
    currencies: tuple[str, ...] = (ORG_CURRENCY,)  # every currency records may use
    pricebook_id: str = ""  # the standard price book
    today: date = field(default_factory=date.today)  # the date the data is relative to

    @property
    def integration_user(self) -> Record:
        return self.users[0]


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the end of a shorter month (as Apex addMonths)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _fill(rng: random.Random, pattern: str) -> str:
    """``pattern`` with each '#' replaced by a random digit and each '@' by a random letter."""
    draw = rng.random
    return "".join(
        "0123456789"[int(draw() * 10)]
        if c == "#"
        else "ABCDEFGHJKLMNPRSTUVWXYZ"[int(draw() * 23)]
        if c == "@"
        else c
        for c in pattern
    )


def _ascii_slug(text: str, limit: int = 24) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in folded.lower() if c.isalnum())[:limit]


def _money(amount: float, currency: str) -> float:
    return round(amount, _DECIMALS[currency])


def _price(spec: ProductSpec, currency: str) -> float:
    return _money(spec.usd_price * _RATES[currency], currency)


_ADDRESS_FIELDS = tuple(
    f"{kind}{part}"
    for kind in ("Billing", "Shipping")
    for part in ("Street", "City", "State", "PostalCode", "Country")
)


class _AccountInfo(NamedTuple):
    """What orders need to know of an account (kept small: there may be 50,000 of them)."""

    id: str
    currency: str
    owner: str
    address: tuple[str | None, ...]  # values of _ADDRESS_FIELDS
    contact_ids: tuple[str, ...]


class _Generator:
    def __init__(self, config: SandboxConfig, today: date, sandbox_org: bool) -> None:
        self.config = config
        self.today = today
        self.sandbox_org = sandbox_org
        self.cpq = config.cpq_fields
        self.multi = config.multi_currency
        self.currencies = CURRENCIES if self.multi else (ORG_CURRENCY,)
        self.schema: Schema = org_schema(cpq=self.cpq, multi_currency=self.multi)
        self.new_id = IdFactory(config.seed)
        self.org = OrgStore(self.schema, self.new_id)
        self.blank = {name: dict.fromkeys(s.fields) for name, s in self.schema.items()}
        self.now = datetime(today.year, today.month, today.day, tzinfo=UTC)
        self.seed = config.seed

    def rng(self, stream: str) -> random.Random:
        # One stream per kind of record: changing how orders are made leaves accounts alone.
        return random.Random(f"cpq-sync-sandbox:{self.seed}:{stream}")

    def record(self, sobject: str, **values: Any) -> Record:
        record = self.blank[sobject].copy()
        record["Id"] = self.new_id(self.schema[sobject].key_prefix)
        if "IsDeleted" in record:
            record["IsDeleted"] = False
        record.update(values)
        return record

    def audit(self, created: datetime, modified: datetime, user_id: str) -> dict[str, Any]:
        modified_text = _stamp(modified)
        return {
            "CreatedDate": _stamp(created),
            "CreatedById": user_id,
            "LastModifiedDate": modified_text,
            "LastModifiedById": user_id,
            "SystemModstamp": modified_text,
        }

    # -- setup objects ------------------------------------------------------------------------

    def users(self) -> list[Record]:
        people = (
            ("Integration", "User", "integration", True),
            ("Alex", "Morgan", "alex.morgan", True),
            ("Priya", "Raman", "priya.raman", True),
            ("Jonas", "Weber", "jonas.weber", True),
            ("Mei", "Tanaka", "mei.tanaka", True),
            ("Sam", "Carter", "sam.carter", False),  # left the company, still owns accounts
        )
        created = self.now - timedelta(days=5 * 365)
        records: list[Record] = []
        for first, last, login, active in people:
            record = self.record(
                "User",
                Username=f"{login}@{USER_DOMAIN}",
                FirstName=first,
                LastName=last,
                Name=f"{first} {last}",
                Alias=(first[0] + last)[:8].lower(),
                Email=f"{login}@{USER_DOMAIN}",
                IsActive=active,
                TimeZoneSidKey="America/Los_Angeles",
                LocaleSidKey="en_US",
                LanguageLocaleKey="en_US",
            )
            creator = records[0]["Id"] if records else record["Id"]
            record.update(self.audit(created, created, creator))
            records.append(record)
        self.org.bulk_insert("User", records)
        return records

    def organization(self, admin_id: str) -> str:
        created = self.now - timedelta(days=5 * 365 + 1)
        record = self.record(
            "Organization",
            Name=ORGANIZATION_NAME,
            Street="415 Mission Street",
            City="San Francisco",
            State="CA",
            PostalCode="94105",
            Country="United States",
            Phone="+1 (415) 555-0100",
            PrimaryContact="Integration User",
            DefaultLocaleSidKey="en_US",
            LanguageLocaleKey="en_US",
            TimeZoneSidKey="America/Los_Angeles",
            DefaultCurrencyIsoCode=ORG_CURRENCY,
            InstanceName="CS42",
            IsSandbox=self.sandbox_org,
            OrganizationType="Enterprise Edition",
            **self.audit(created, created, admin_id),
        )
        self.org.insert("Organization", record)
        if self.multi:
            self.org.bulk_insert(
                "CurrencyType",
                [
                    self.record(
                        "CurrencyType",
                        IsoCode=code,
                        ConversionRate=_RATES[code],
                        DecimalPlaces=_DECIMALS[code],
                        IsActive=True,
                        IsCorporate=code == ORG_CURRENCY,
                        **self.audit(created, created, admin_id),
                    )
                    for code in self.currencies
                ],
            )
        return record["Id"]

    def products(self, admin_id: str) -> tuple[str, list[Record], dict[tuple[str, str], str]]:
        """Price book, products and entries: (pricebook id, products, (product id, cur) → entry id)."""
        created = self.now - timedelta(days=4 * 365)
        audit = self.audit(created, created, admin_id)
        pricebook = self.record(
            "Pricebook2",
            Name="Standard Price Book",
            IsActive=True,
            IsStandard=True,
            Description="Standard price book",
            **audit,
        )
        self.org.insert("Pricebook2", pricebook)
        products: list[Record] = []
        entries: list[Record] = []
        entry_ids: dict[tuple[str, str], str] = {}
        for spec in PRODUCTS:
            product = self.record(
                "Product2",
                Name=spec.name,
                ProductCode=spec.code,
                Description=f"{spec.family}: {spec.name}",
                IsActive=spec.active,
                Family=spec.family,
                **audit,
            )
            if self.multi:
                product["CurrencyIsoCode"] = ORG_CURRENCY
            if self.cpq:
                product.update(
                    SBQQ__ChargeType__c=_R if spec.recurring else _O,
                    SBQQ__BillingType__c="Advance" if spec.recurring else None,
                    SBQQ__BillingFrequency__c=spec.frequency,
                    SBQQ__SubscriptionTerm__c=12.0 if spec.recurring else None,
                    SBQQ__SubscriptionPricing__c="Fixed Price" if spec.recurring else None,
                    SBQQ__SubscriptionType__c="Renewable" if spec.recurring else None,
                )
            products.append(product)
            for currency in self.currencies:
                entry = self.record(
                    "PricebookEntry",
                    Name=spec.name,
                    Pricebook2Id=pricebook["Id"],
                    Product2Id=product["Id"],
                    UnitPrice=_price(spec, currency),
                    IsActive=spec.active,
                    UseStandardPrice=False,
                    ProductCode=spec.code,
                    **audit,
                )
                if self.multi:
                    entry["CurrencyIsoCode"] = currency
                entries.append(entry)
                entry_ids[product["Id"], currency] = entry["Id"]
        self.org.bulk_insert("Product2", products)
        self.org.bulk_insert("PricebookEntry", entries)
        return pricebook["Id"], products, entry_ids

    def catalog(self, products: list[Record]) -> list[CatalogProduct]:
        catalog = []
        for spec, product in zip(PRODUCTS, products, strict=True):
            if not spec.in_zuora:
                continue
            charge = CatalogCharge(
                name=f"{spec.name} {'Subscription' if spec.recurring else 'Fee'}",
                charge_type="Recurring" if spec.recurring else "OneTime",
                charge_model="Per Unit Pricing",
                billing_period=_ZUORA_PERIOD[spec.frequency] if spec.frequency else None,
                prices={currency: _price(spec, currency) for currency in self.currencies},
            )
            plan = CatalogRatePlan(
                name=f"{spec.name} ({spec.frequency or 'One-Time'})",
                external_id=product["Id"],
                charges=(charge,),
            )
            catalog.append(
                CatalogProduct(
                    sku=spec.code, name=spec.name, product2_id=product["Id"], rate_plans=(plan,)
                )
            )
        return catalog

    # -- accounts and contacts ----------------------------------------------------------------

    def company_name(self, rng: random.Random, country: _Country) -> str:
        style = rng.random()
        suffix = rng.choice(country.suffixes)
        if style < 0.5:
            base = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_TRADES)}"
        elif style < 0.75:
            base = f"{rng.choice(_ADJECTIVES)}{rng.choice(_NOUNS).lower()} {rng.choice(_TRADES)}"
        elif style < 0.9:
            base = f"{rng.choice(_LAST_NAMES)} & {rng.choice(_LAST_NAMES)}"
        else:
            return f"{rng.choice(_ADJECTIVES)} {rng.choice(_TRADES)}"
        return f"{base} {suffix}"

    def address(self, rng: random.Random, country: _Country) -> tuple[str, str, str | None, str]:
        city, state, postal = rng.choice(country.cities)
        number, street = str(rng.randint(1, 999)), rng.choice(country.streets)
        line = f"{number} {street}" if country.number_first else f"{street} {number}"
        if rng.random() < 0.1:
            line += f"\nSuite {rng.randint(100, 1999)}"  # a two-line street, as textareas allow
        return line, city, state, _fill(rng, postal)

    def accounts(self, owners: Sequence[str], owner_weights: Sequence[float]) -> list[_AccountInfo]:
        """Insert accounts and their contacts, one at a time to keep memory low."""
        rng = self.rng("accounts")
        count = self.config.accounts
        created_span = (3 * 365 - 30) * 86400
        start = self.now - timedelta(days=3 * 365)
        country_weights = [c.weight for c in _COUNTRIES]
        awkward = (
            dict(zip(_AWKWARD_INDEXES, AWKWARD_ACCOUNT_NAMES, strict=True)) if count >= 20 else {}
        )
        depth: list[int] = []
        roots: list[int] = []
        middles: list[int] = []  # children that may have children of their own
        children_made = 0
        accounts: list[_AccountInfo] = []
        for index in range(count):
            country = rng.choices(_COUNTRIES, country_weights)[0]
            anomaly = rng.random()
            if index in awkward:
                anomaly = 1.0  # awkward names come with clean data, so only the name is odd
            elif 0.05 <= anomaly < 0.08:
                country = rng.choice(_STATE_COUNTRIES)
            name = awkward.get(index) or self.company_name(rng, country)
            street, city, state, postal = self.address(rng, country)
            country_name: str | None = country.name
            if anomaly < 0.05:
                country_name = None  # ~5%: no billing country
            elif anomaly < 0.08:
                state = None  # ~3%: no state where the country needs one
            shipping_kind = rng.random()
            if shipping_kind < 0.55:
                shipping = (street, city, state, postal, country_name)
            elif shipping_kind < 0.85:
                shipping = (*self.address(rng, country), country.name)
            else:
                shipping = (None, None, None, None, None)
            parent_index = None
            if index and index not in awkward and rng.random() < 0.10:
                children_made += 1
                pool = middles if children_made % 4 == 0 and middles else roots
                if pool:
                    parent_index = pool[rng.randrange(len(pool))]
            currency = country.currency if self.multi else ORG_CURRENCY
            if parent_index is not None:  # a subsidiary is billed in its parent's currency
                currency = accounts[parent_index].currency
            level = 0 if parent_index is None else depth[parent_index] + 1
            depth.append(level)
            (roots if level == 0 else middles if level == 1 else []).append(index)
            owner = rng.choices(owners, owner_weights)[0]
            created = start + timedelta(
                seconds=created_span * index // max(count, 1) + rng.randrange(3600)
            )
            modified = created
            if rng.random() < 0.5:
                modified += timedelta(days=rng.randrange(1, 30))
            slug = _ascii_slug(name) or f"account{index}"
            account = self.record(
                "Account",
                Name=name,
                AccountNumber=f"CUST-{index + 1:06d}" if rng.random() < 0.75 else None,
                Type="Customer - Direct"
                if rng.random() < 0.7
                else rng.choice(
                    ("Customer - Channel", "Channel Partner / Reseller", "Prospect", "Other")
                ),
                ParentId=accounts[parent_index].id if parent_index is not None else None,
                BillingStreet=street,
                BillingCity=city,
                BillingState=state,
                BillingPostalCode=postal,
                BillingCountry=country_name,
                ShippingStreet=shipping[0],
                ShippingCity=shipping[1],
                ShippingState=shipping[2],
                ShippingPostalCode=shipping[3],
                ShippingCountry=shipping[4],
                Phone=_fill(rng, country.phone) if rng.random() < 0.9 else None,
                Website=f"https://www.{slug}.example.com" if rng.random() < 0.6 else None,
                Industry=rng.choice(ACCOUNT_INDUSTRIES) if rng.random() < 0.85 else None,
                Description=rng.choice(_ACCOUNT_NOTES) if rng.random() < 0.25 else None,
                OwnerId=owner,
                **self.audit(created, modified, owner),
            )
            if self.multi:
                account["CurrencyIsoCode"] = currency
            self.org.insert("Account", account)
            contact_ids = tuple(
                self.org.insert("Contact", self.contact(rng, account, country, slug))
                for _ in range(rng.choices((1, 2, 3), (40, 40, 20))[0])
            )
            address = tuple(account[f] for f in _ADDRESS_FIELDS)
            accounts.append(_AccountInfo(account["Id"], currency, owner, address, contact_ids))
        return accounts

    def contact(self, rng: random.Random, account: Record, country: _Country, slug: str) -> Record:
        first: str | None = rng.choice(_FIRST_NAMES) if rng.random() > 0.03 else None
        last = rng.choice(_LAST_NAMES)
        local = ".".join(_ascii_slug(part, 20) for part in (first, last) if part)
        same_address = rng.random() < 0.8
        contact = self.record(
            "Contact",
            AccountId=account["Id"],
            FirstName=first,
            LastName=last,
            Name=f"{first} {last}" if first else last,
            MailingStreet=account["BillingStreet"] if same_address else None,
            MailingCity=account["BillingCity"] if same_address else None,
            MailingState=account["BillingState"] if same_address else None,
            MailingPostalCode=account["BillingPostalCode"] if same_address else None,
            MailingCountry=account["BillingCountry"] if same_address else None,
            Phone=_fill(rng, country.phone) if rng.random() < 0.7 else None,
            MobilePhone=_fill(rng, country.phone) if rng.random() < 0.5 else None,
            Email=f"{local}@{slug}.example.com" if rng.random() < 0.95 else None,
            Title=rng.choice(_TITLES),
            OwnerId=account["OwnerId"],
            CreatedDate=account["CreatedDate"],
            CreatedById=account["CreatedById"],
            LastModifiedDate=account["CreatedDate"],
            LastModifiedById=account["CreatedById"],
            SystemModstamp=account["CreatedDate"],
        )
        if self.multi:
            contact["CurrencyIsoCode"] = account["CurrencyIsoCode"]
        return contact

    # -- orders -------------------------------------------------------------------------------

    def orders(
        self,
        accounts: list[_AccountInfo],
        products: list[Record],
        entry_ids: dict[tuple[str, str], str],
        pricebook_id: str,
    ) -> None:
        count = self.config.orders
        if not count or not accounts:
            return
        rng = self.rng("orders")
        first_day = self.today - timedelta(days=730)
        day_span = 730 + 90  # the last 2 years and the next 3 months
        forced = [i for i in _AWKWARD_INDEXES if i < len(accounts)] if len(accounts) >= 20 else []
        plans = []
        for n in range(count):
            account_index = forced[n] if n < len(forced) else rng.randrange(len(accounts))
            effective = first_day + timedelta(days=rng.randrange(day_span + 1))
            created = datetime(effective.year, effective.month, effective.day, tzinfo=UTC)
            created -= timedelta(days=rng.randrange(0, 21), seconds=rng.randrange(1, 86400))
            created = min(created, self.now - timedelta(seconds=rng.randrange(60, 86400)))
            plans.append((created, n, account_index, effective))
        plans.sort()  # order numbers follow creation time, as an auto-number does
        weights = [spec.weight for spec in PRODUCTS]
        platform = [i for i, spec in enumerate(PRODUCTS) if spec.family == "Platform"]
        missing = next(i for i, spec in enumerate(PRODUCTS) if not spec.in_zuora and spec.active)
        orders: list[Record] = []
        items: list[Record] = []
        item_number = 0
        for number, (created, n, account_index, effective) in enumerate(plans, start=101):
            account = accounts[account_index]
            currency, owner, contacts = account.currency, account.owner, account.contact_ids
            activated = rng.random() < 0.85
            audit = self.audit(created, created, owner)
            term = rng.choice((12, 12, 12, 24, 36))
            name = rng.choice(("Expansion", "Renewal", "Upsell", "Initial Purchase"))
            bill_to = rng.choice(contacts) if contacts and rng.random() < 0.7 else None
            ship_to = rng.choice(contacts) if bill_to and rng.random() < 0.5 else None
            order = self.record(
                "Order",
                OwnerId=owner,
                AccountId=account.id,
                Pricebook2Id=pricebook_id,
                EffectiveDate=effective.isoformat(),
                Status="Activated" if activated else "Draft",
                StatusCode="Activated" if activated else "Draft",
                Description=rng.choice(_ORDER_NOTES) if rng.random() < 0.3 else None,
                Type=rng.choices(("New", "Renewal", "Amendment"), (70, 20, 10))[0],
                Name=f"{effective.year} {name}" if rng.random() < 0.2 else None,
                PoNumber=f"PO-{rng.randint(10000, 99999)}" if rng.random() < 0.4 else None,
                BillToContactId=bill_to,
                ShipToContactId=ship_to,
                ActivatedDate=_stamp(min(created + timedelta(hours=2), self.now))
                if activated
                else None,
                ActivatedById=owner if activated else None,
                OrderNumber=f"{number:08d}",
                **audit,
            )
            order.update(zip(_ADDRESS_FIELDS, account.address, strict=True))  # as CPQ copies it
            if self.multi:
                order["CurrencyIsoCode"] = currency
            if self.cpq:
                order.update(
                    SBQQ__PaymentTerm__c=rng.choices(
                        ("Net 30", "Net 15", "Net 45", "Due on Receipt"), (70, 10, 10, 10)
                    )[0],
                    SBQQ__Contracted__c=activated and rng.random() < 0.5,
                    SBQQ__ContractingMethod__c="By Subscription End Date",
                    SBQQ__RenewalTerm__c=12.0,
                    SBQQ__PriceCalcStatus__c="Completed",
                )
            chosen: list[int] = []
            if n == len(forced):
                chosen.append(missing)  # at least one order needs a product Zuora lacks
            elif rng.random() < 0.85:
                chosen.append(platform[rng.randrange(len(platform))])
            wanted = rng.choices((1, 2, 3, 4, 5), (25, 30, 25, 12, 8))[0]
            while len(chosen) < wanted:
                pick = rng.choices(range(len(PRODUCTS)), weights)[0]
                if pick not in chosen:
                    chosen.append(pick)
            total = 0.0
            end_dates: list[date] = []
            for pick in chosen:
                spec, product = PRODUCTS[pick], products[pick]
                item_number += 1
                service = effective
                if rng.random() < 0.1:  # some products start later than the order
                    service += timedelta(days=rng.randint(1, 60))
                end = add_months(service, term) - timedelta(days=1) if spec.recurring else None
                if end:
                    end_dates.append(end)
                quantity = float(
                    rng.randint(1, 3) if spec.family == "Services" else rng.randint(1, 50)
                )
                list_price = _price(spec, currency)
                unit = _money(list_price * (1 - rng.choice(_DISCOUNTS)), currency)
                line_total = _money(quantity * unit, currency)
                total += line_total
                item = self.record(
                    "OrderItem",
                    Product2Id=product["Id"],
                    OrderId=order["Id"],
                    PricebookEntryId=entry_ids[product["Id"], currency],
                    Quantity=quantity,
                    UnitPrice=unit,
                    ListPrice=list_price,
                    TotalPrice=line_total,
                    ServiceDate=service.isoformat(),
                    EndDate=end.isoformat() if end else None,
                    OrderItemNumber=f"{item_number:010d}",
                    **audit,
                )
                if self.multi:
                    item["CurrencyIsoCode"] = currency
                if self.cpq:
                    item.update(
                        SBQQ__ChargeType__c=_R if spec.recurring else _O,
                        SBQQ__BillingType__c="Advance" if spec.recurring else None,
                        SBQQ__BillingFrequency__c=spec.frequency,
                        SBQQ__SubscriptionTerm__c=float(term) if spec.recurring else None,
                        SBQQ__DefaultSubscriptionTerm__c=12.0 if spec.recurring else None,
                        SBQQ__SubscriptionPricing__c="Fixed Price" if spec.recurring else None,
                        SBQQ__SubscriptionType__c="Renewable" if spec.recurring else None,
                    )
                items.append(item)
            order["TotalAmount"] = _money(total, currency)
            order["EndDate"] = max(end_dates).isoformat() if end_dates else None
            orders.append(order)
        self.org.bulk_insert("Order", orders)
        self.org.bulk_insert("OrderItem", items)

    def run(self) -> GeneratedOrg:
        users = self.users()
        admin_id = users[0]["Id"]
        organization_id = self.organization(admin_id)
        pricebook_id, products, entry_ids = self.products(admin_id)
        owners = [u["Id"] for u in users]
        owner_weights = (5, 25, 25, 20, 20, 5)  # integration user, four reps, one inactive rep
        accounts = self.accounts(owners, owner_weights)
        self.orders(accounts, products, entry_ids, pricebook_id)
        return GeneratedOrg(
            org=self.org,
            catalog=self.catalog(products),
            users=[dict(u) for u in users],
            organization_id=organization_id,
            products_missing_from_zuora=[
                p["Id"] for spec, p in zip(PRODUCTS, products, strict=True) if not spec.in_zuora
            ],
            org_currency=ORG_CURRENCY,
            currencies=self.currencies,
            pricebook_id=pricebook_id,
            today=self.today,
        )


def generate_org(
    config: SandboxConfig, *, today: date | None = None, sandbox_org: bool = False
) -> GeneratedOrg:
    """Build the simulated org's records and the matching Zuora catalog.

    The same ``config`` (seed, sizes, flags) and ``today`` give identical records and ids.
    Dates spread around ``today`` (default: the current date): orders take effect over the
    last two years and the next three months. ``sandbox_org`` sets Organization.IsSandbox.
    """
    if config.accounts < 0 or config.orders < 0:
        raise ValueError("accounts and orders must not be negative")
    return _Generator(config, today or date.today(), sandbox_org).run()
