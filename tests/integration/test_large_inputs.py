"""Large and odd inputs: a 100,000-line id file, names of 255+ characters, right-to-left and
emoji names, an empty org, an order with 200 products, a Zuora catalog without the products.

Whatever the engine does with them must be clear and final: every record ends in a final state
with a message that names the problem, nothing is sent that cannot be, and the simulated Zuora
tenant holds exactly what the run reports (the sandbox fixture also fails the test on any
payload Zuora's schema would refuse).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
import random
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cpq_sync_gui.ids_import import read_ids_file
from cpq_sync_gui.salesforce.ids import to_18
from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.credentials import SandboxCredentials
from cpq_sync_gui.sandbox.data import generate_org
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.sandbox.tls import SandboxTLS
from cpq_sync_gui.sync.events import RecordState
from cpq_sync_gui.sync.journal import RunJournal
from cpq_sync_gui.sync_export import export_rows, write_results
from tests.helpers.cli_sync_rig import json_lines, make_cli_rig, records_of, summary_of
from tests.helpers.sandbox_clients import sync_clients
from tests.integration.test_fault_matrix import (
    READ_TIMEOUT_S,
    Rig,
    assert_final_and_truthful,
    assert_plain,
)

pytestmark = pytest.mark.slow

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _unknown_ids(count: int, seed: int) -> list[str]:
    """Valid account ids that no org holds (key prefix 001, pod 9z)."""
    rng = random.Random(seed)
    made: set[str] = set()
    while len(made) < count:
        made.add(to_18("0019z" + "".join(rng.choice(_BASE62) for _ in range(10))))
    return sorted(made)


@pytest.fixture
def rig_for(make_sandbox: Callable[..., Sandbox]) -> Iterator[Callable[..., Rig]]:
    journals: list[RunJournal] = []

    def make(**config: Any) -> Rig:
        sandbox = make_sandbox(**config)
        salesforce, zuora = sync_clients(sandbox, "faults", READ_TIMEOUT_S)
        journal = RunJournal()
        journals.append(journal)
        return Rig(sandbox, salesforce, zuora, journal)

    yield make
    for journal in journals:
        journal.close()


# --- 100,000 lines of ids ----------------------------------------------------------------------


def test_a_100000_line_ids_file_is_read_exactly(tmp_path: Path) -> None:
    rng = random.Random(100_000)
    fresh = iter(_unknown_ids(70_000, seed=1))
    used: list[str] = []
    lines = ["Id"]  # a Data Loader export: header, CRLF, BOM, 15- and 18-character ids
    for _ in range(99_000):
        record_id = rng.choice(used) if used and rng.random() < 0.3 else next(fresh)
        used.append(record_id)
        lines.append(record_id if rng.random() < 0.5 else record_id[:15])
    for position in sorted(rng.sample(range(2, len(lines)), 999), reverse=True):
        lines.insert(position, "")  # blank lines
    assert len(lines) == 100_000
    path = tmp_path / "ids.csv"
    path.write_bytes(codecs.BOM_UTF8 + "\r\n".join(lines).encode("utf-8") + b"\r\n")
    parsed = read_ids_file(path, "001")
    assert parsed.ids == list(dict.fromkeys(used))
    assert parsed.repeated == len(used) - len(set(used))
    assert parsed.rejected == []
    assert parsed.header == "Id"

    # Three bad lines among the 100,000: each is reported with its own line number.
    bad_lines = sorted(rng.sample(range(2, len(lines) + 1), 3))
    for number in bad_lines:
        lines[number - 1] = f"not-an-id-{number}"
    path.write_text("\n".join(lines), encoding="utf-8")
    parsed = read_ids_file(path, "001")
    assert [(r.line, r.token) for r in parsed.rejected] == [
        (n, f"not-an-id-{n}") for n in bad_lines
    ]


def test_a_100000_line_ids_file_through_the_command_line(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = make_sandbox(accounts=200, orders=0, seed=41)
    real = [str(r["Id"]) for r in sandbox.org.all("Account")]
    ids = real + _unknown_ids(50_000 - len(real), seed=2)
    random.Random(3).shuffle(ids)
    rig = make_cli_rig(sandbox, tmp_path / "cli")
    try:
        # A header and 99,999 lines: every id, then all but one again as 15 characters.
        lines = ["Id", *ids, *(i[:15] for i in ids[:-1])]
        assert len(lines) == 100_000
        path = tmp_path / "big.csv"
        broken = [*lines[:1000], "0015g000ZZZ", *lines[1001:]]  # line 1,001 is not an id
        path.write_text("\n".join(broken) + "\n", encoding="utf-8")
        refused = rig.sync("accounts", "--ids-file", str(path), "--json", timeout=600)
        assert refused.returncode == 2
        assert_plain(refused.stderr, "line 1001", "nothing was sent")
        assert sandbox.log.count("zuora", "POST", "/v1/accounts") == 0

        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        answer = rig.sync("accounts", "--ids-file", str(path), "--json", timeout=900)
    finally:
        rig.close()
    lines_out = json_lines(answer.stdout)
    records = records_of(lines_out)
    summary = summary_of(lines_out)
    assert set(records) == set(ids)  # one final outcome per record, none lost, none twice
    assert summary["total"] == len(ids)
    assert answer.returncode == summary["exit_code"] == 1
    real_set = set(real)
    for record_id, record in records.items():
        assert record["state"] in ("synced", "failed"), record
        if record_id not in real_set:
            assert record["state"] == "failed"
            assert_plain(record["error"], f"No account with id {record_id} was found")
        elif record["state"] == "failed":
            assert record["error"].startswith("Not sent: "), record
    synced = [r for r in records.values() if r["state"] == "synced"]
    assert len(synced) >= 150
    assert sandbox.zuora.account_count() == len(synced)
    assert sandbox.zuora.duplicates() == {"accounts_by_crm_id": {}, "orders_by_number": {}}
    with RunJournal() as journal:
        run_id = summary["run_id"]
        assert journal.run_summary(run_id).unfinished == 0
        assert len(journal.records_of(run_id)) == len(ids)


# --- names ---------------------------------------------------------------------------------------

ODD_NAMES = [
    "Ä" * 255,  # the longest name Account.Name holds, in letters outside ASCII
    "🚀" * 127 + "!",  # 255 UTF-16 code units (Zuora runs on Java): fits exactly
    "🚀" * 128,  # 256 UTF-16 code units in 128 characters
    "Long " * 60,  # 300 characters, from a field longer than Salesforce allows
    "x" * 1000,
    "شركة المثال للتجارة والمقاولات",  # right to left
    "מחשבים בע״מ (ישראל)",
    "\u202eevil\u202c Holdings",  # a right-to-left override inside a left-to-right name
    "👩‍👩‍👧‍👦 Family Office 🏳️‍🌈",  # zero-width-joiner sequences
    "Zoe\u0308 & Noe\u0308l",  # combining marks
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 Ltd",  # mathematical letters outside the BMP
    "東京都港区株式会社" * 28 + "株式",  # 254 characters of CJK
    '=HYPERLINK("https://evil.example","Click")',  # spreadsheet formulas in a name
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1 (555) 010-9999 Ltd",
    "-2+3 Partners",
]
FORMULA_STARTS = ("=", "+", "-", "@")


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _well_formed(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: half a character
        return False
    return True


def test_long_right_to_left_emoji_and_formula_names(
    rig_for: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = rig_for(accounts=80, orders=0, seed=43)
    complete = [
        a
        for a in rig.sandbox.org.all("Account")
        if a["BillingCountry"] and a["BillingState"] and not a["ParentId"]
    ]
    chosen = {a["Id"]: name for a, name in zip(complete, ODD_NAMES, strict=False)}
    assert len(chosen) == len(ODD_NAMES)
    for record_id, name in chosen.items():
        rig.sandbox.org.update("Account", record_id, {"Name": name})
    result = rig.run(rig.plan("accounts", list(chosen)))
    assert_final_and_truthful(rig, result)
    for record in result.records:
        name = chosen[record.record_id].strip()
        assert record.state is RecordState.SYNCED, record
        [account] = rig.sandbox.zuora.accounts_by_crm_id(record.record_id)
        stored = account["name"]
        assert _well_formed(stored)
        if _utf16_units(name) <= 255:
            assert stored == name  # unchanged: no mojibake, no normalisation, no escaping
        else:
            # Cut to Zuora's 255 (counted as Java does), never inside a character.
            assert 250 <= _utf16_units(stored) <= 255
            assert name.startswith(stored)
        for key in ("billToContactId", "soldToContactId"):
            contact = rig.sandbox.zuora.contacts[account[key]]
            for part in ("firstName", "lastName"):
                assert 0 < _utf16_units(contact[part]) <= 100
                assert _well_formed(contact[part])

    # The run's result files (as the window and `runs export` write them) carry every name
    # exactly, for Excel: UTF-8 with a BOM, and a name Excel would run as a formula is
    # neutralised with a leading apostrophe.
    files = write_results(export_rows(rig.journal.records_of(result.run_id)), tmp_path, "names")
    raw = files.success_path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    names = {row["ID"]: row["NAME"] for row in rows}
    assert set(names) == set(chosen)
    for record_id, name in chosen.items():
        if name.startswith(FORMULA_STARTS):
            assert names[record_id] == "'" + name
        else:
            assert names[record_id] == name


# --- an empty org ----------------------------------------------------------------------------


def test_an_empty_org(make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    sandbox = make_sandbox(accounts=0, orders=0)
    rig = make_cli_rig(sandbox, tmp_path / "cli")
    try:
        nothing = rig.sync("accounts", "--where", "Name != null", "--json")
        assert nothing.returncode == 0, nothing.stderr
        assert_plain(nothing.stderr, "selected 0", "nothing to sync")
        missing = _unknown_ids(3, seed=4)
        answer = rig.sync("accounts", "--ids", ",".join(missing), "--json")
        orders = rig.sync("orders", "--ids", to_18("8019z000Ab3xQaC"), "--json")
        listed = rig.run("runs", "list", "--json")
    finally:
        rig.close()
    records = records_of(json_lines(answer.stdout))
    assert answer.returncode == 1
    assert set(records) == set(missing)
    for record_id, record in records.items():
        assert record["state"] == "failed"
        assert_plain(record["error"], f"No account with id {record_id} was found")
    [order] = records_of(json_lines(orders.stdout)).values()
    assert order["state"] == "failed"
    assert_plain(order["error"], "No order with id")
    assert listed.returncode == 0
    assert len(json.loads(listed.stdout)["runs"]) == 2
    created = sum(sandbox.log.count("zuora", "POST", p) for p in ("/v1/accounts", "/v1/orders"))
    assert created == 0
    assert sandbox.zuora.account_count() == 0


# --- an order with 200 products ----------------------------------------------------------------


def _add_items(sandbox: Sandbox, order_id: str, count: int) -> None:
    """Give an order ``count`` order products, copies of one it has (one Zuora's catalog has)."""
    own = [i for i in sandbox.org.all("OrderItem") if i["OrderId"] == order_id]
    template = own[0]
    for item in own:
        sandbox.org.delete("OrderItem", item["Id"])
    for n in range(count):
        fields = {k: v for k, v in template.items() if k != "Id"}
        fields["OrderItemNumber"] = f"9{n:09d}"
        sandbox.org.insert("OrderItem", fields)


@pytest.mark.parametrize(("products", "sendable"), [(200, False), (51, False), (50, True)])
def test_an_order_with_many_products(
    rig_for: Callable[..., Rig], products: int, sendable: bool
) -> None:
    rig = rig_for(accounts=20, orders=20, seed=47)
    plan = rig.plan("orders", rig.ids("Order", 20))
    ready = [
        r
        for r in plan.records
        if r.record_kind == "order" and not r.blocked and r.action == "create"
    ]
    big = ready[0].record_id
    _add_items(rig.sandbox, big, products)
    result = rig.run(rig.plan("orders", rig.ids("Order", 20)))
    assert_final_and_truthful(rig, result)
    record = next(r for r in result.records if r.record_id == big)
    number = rig.sandbox.org.get("Order", big)["OrderNumber"]  # type: ignore[index]
    if sendable:
        assert record.state is RecordState.SYNCED, record
        [order] = rig.sandbox.zuora.orders_by_number(number)
        subscriptions = rig.sandbox.zuora.subscriptions_for(number)
        plans = sum(len(s["ratePlans"]) for s in subscriptions)
        assert plans + len(order["orderLineItems"]) == products
    else:
        assert record.state is RecordState.FAILED
        assert_plain(record.detail, f"has {products} order products", "at most 50", "split")
        assert rig.sandbox.zuora.orders_by_number(number) == []
        sent = [
            json.loads(e.body).get("orderNumber")
            for e in rig.sandbox.log.entries("zuora", "POST", "/v1/orders")
        ]
        assert number not in sent  # refused before anything was sent
    others = [r for r in result.records if r.record_id != big and r.record_kind == "order"]
    assert any(r.state is RecordState.SYNCED for r in others)  # the rest of the run went on


# --- a Zuora catalog without the products --------------------------------------------------------


@pytest.fixture
def sandbox_without_catalog(
    tmp_path: Path, sandbox_tls: SandboxTLS, sandbox_credentials: SandboxCredentials
) -> Iterator[Sandbox]:
    """An org whose Zuora tenant's catalog lacks every Platform product (the most used)."""
    config = SandboxConfig(accounts=60, orders=120, seed=53)
    generated = generate_org(config)
    kept = [p for p in generated.catalog if not p.sku.startswith("SKU-PLAT-")]
    sandbox = Sandbox(
        config,
        directory=tmp_path / "sandbox-no-catalog",
        tls=sandbox_tls,
        credentials=sandbox_credentials,
        generated=dataclasses.replace(generated, catalog=kept),
    ).start()
    yield sandbox
    sandbox.stop()
    assert sandbox.problems() == []


def test_a_catalog_without_the_products(sandbox_without_catalog: Sandbox) -> None:
    sandbox = sandbox_without_catalog
    salesforce, zuora = sync_clients(sandbox, "faults", READ_TIMEOUT_S)
    with RunJournal() as journal:
        rig = Rig(sandbox, salesforce, zuora, journal)
        plan = rig.plan("orders", rig.ids("Order", 120))
        result = rig.run(plan)
        assert_final_and_truthful(rig, result)
        products = {p["Id"]: p for p in sandbox.org.all("Product2")}
        missing_skus = {
            p["ProductCode"] for p in products.values() if p["ProductCode"].startswith("SKU-PLAT-")
        }
        by_id = {r.record_id: r for r in result.records}
        blocked = 0
        for order in sandbox.org.all("Order"):
            items = [i for i in sandbox.org.all("OrderItem") if i["OrderId"] == order["Id"]]
            lacking = sorted(
                {products[i["Product2Id"]]["ProductCode"] for i in items} & missing_skus
            )
            record = by_id[order["Id"]]
            if lacking:
                blocked += 1
                assert record.state is RecordState.FAILED
                # Reported per record, naming every product Zuora lacks.
                for sku in lacking:
                    assert_plain(record.detail, sku, "Zuora catalog")
                assert sandbox.zuora.orders_by_number(order["OrderNumber"]) == []
        assert blocked >= 60  # most orders hold a Platform product
        assert any(r.state is RecordState.SYNCED for r in result.records)
