"""The public proof of reserve: the page, the JSON and the CSV agree with the books and with
totalSupply() read from anvil, need no login, and survive a chain that cannot be read."""

import csv
import hashlib
import io
import time
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.chain.models import Deployment
from backoffice.chain.selectors import deployment_get
from backoffice.multisig.models import TxState
from backoffice.multisig.tests.helpers import issue_propose, owners_sign, tx_wait
from issuance import services
from issuance.models import Audit, Bar, GoldPrice, ReserveSnapshot, Vault
from issuance.public.figures import grouped, tokens_str
from issuance.public.services import QUEUED_KEY, reserve_publish, reserve_published_forget

pytestmark = pytest.mark.integration  # anvil for the supply; the browser and worker tests more

VAULT = "Zurich Free Port"
AUDITED = [(f"VC-{n:04d}", "Valcambi", "400.000", "999.90") for n in range(1, 121)]  # 399.960 fine oz each
PENDING = [("PB-0001", "PAMP", "100.000", "999.90"), ("PB-0002", "PAMP", "250.000", "995.00")]  # 99.990 + 248.750
DRAFT = [("DR-0001", "Argor-Heraeus", "400.000", "999.90")]
AUDITED_OZ = "47995.200"  # 120 x 399.960
PENDING_OZ = "348.740"
PRICE = "2650.5000"
VALUE = "127211277.600000"  # 47995.200 x 2650.5000, exactly
RATIO = Decimal("1.10")
BACKING = 115_646_616_000_000  # VALUE / 1.10 in base units, exactly (no rounding hides here)
REPORT = b"%PDF-1.4 independent audit report, Zurich Free Port"
LBMA_HEADER = ["Bar Number", "Refiner", "Year of Manufacture", "Gross Weight", "Fineness", "Fine Weight", "Vault"]
CLOSED_PORT = "http://127.0.0.1:9"


# --- setup through the real services -----------------------------------------------------------

def _people():
    users = get_user_model().objects
    return (users.get(username=name) for name in ("operator", "custodian", "auditor"))


def _bar_list(rows) -> str:
    lines = ["Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness"]
    lines += [f"{serial},{refiner},2024,{gross},{fineness}" for serial, refiner, gross, fineness in rows]
    return "\n".join(lines) + "\n"


def _deposit(*, reference, rows, vault, operator, custodian=None):
    deposit = services.deposit_create(reference=reference, depositor="Gold Refinery SA", vault=vault, actor=operator)
    services.deposit_bars_import(deposit_id=deposit.pk, content=_bar_list(rows), actor=operator)
    if custodian is not None:
        receipt = SimpleUploadedFile(f"{reference}.pdf", f"%PDF signed receipt {reference}".encode(),
                                     content_type="application/pdf")
        services.deposit_receive(deposit_id=deposit.pk, receipt=receipt, actor=custodian)
        services.deposit_verify(deposit_id=deposit.pk, actor=custodian)
    return deposit


def _gold_audited_and_priced(*, snapshots: int = 2) -> Audit:
    """120 bars audited and accepted, 2 more received after the audit (pending), 1 still a draft,
    a gold price, and `snapshots` reserve snapshots (the first before the price: value 0)."""
    operator, custodian, auditor = _people()
    vault = Vault.objects.create(name=VAULT, location="Zurich")
    _deposit(reference="DEP-A", rows=AUDITED, vault=vault, operator=operator, custodian=custodian)
    audit = services.audit_plan(vault=vault, as_of=timezone.localdate(), auditor=auditor,
                                firm="Independent Assay LLP", actor=operator)
    services.audit_start_fieldwork(audit_id=audit.pk, actor=auditor)
    services.audit_counts_import(audit_id=audit.pk, content=_bar_list(AUDITED), actor=auditor)
    services.audit_submit(audit_id=audit.pk, actor=auditor,
                          report=SimpleUploadedFile("audit-report.pdf", REPORT, content_type="application/pdf"))
    audit = services.audit_accept(audit_id=audit.pk, actor=auditor)
    _deposit(reference="DEP-B", rows=PENDING, vault=vault, operator=operator, custodian=custodian)
    _deposit(reference="DEP-C", rows=DRAFT, vault=vault, operator=operator)
    client = chain_client()
    for n in range(snapshots):
        if n == 1:
            _price_record()
        services.reserve_snapshot_take(client=client)
    if snapshots < 2:
        _price_record()
    return audit


def _price_record():
    operator = get_user_model().objects.get(username="operator")
    services.gold_price_record(usd_per_oz=PRICE, source="LBMA Gold Price PM", actor=operator,
                               as_of=timezone.now() - timedelta(minutes=5))


def _supply() -> int:
    return chain_client().token_total_supply(deployment_get().token)


def _published():
    """What the worker does every few seconds and after each change: read the reserve and publish it."""
    return reserve_publish(client=chain_client())


def _cold() -> None:
    """Nothing published (a fresh deployment, a flushed cache), and no refresh already waiting."""
    reserve_published_forget()


def _issue_through_the_spine(amount: int) -> None:
    """Propose an issue, sign it with 3 of the 7 owners; the real Celery worker puts it on chain."""
    tx = owners_sign(issue_propose(amount, dev_account(17).address), (4, 1, 6))
    assert tx_wait(tx.pk, {TxState.EXECUTED, TxState.FAILED}).state == TxState.EXECUTED


# --- reading the page -------------------------------------------------------------------------

class _Elements(HTMLParser):
    """Every element with an id: its attributes and its text (children's text included)."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "line", "polyline", "circle", "path", "rect"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: dict[str, dict] = {}
        self.open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.found[attributes["id"]] = {"attrs": attributes, "text": ""}
        if tag not in self.VOID:
            self.open.append((tag, attributes.get("id")))

    def handle_startendtag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.found[attributes["id"]] = {"attrs": attributes, "text": ""}

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _, element_id in self.open:
            if element_id:
                self.found[element_id]["text"] += data


def _page(client, query: str = "") -> _Elements:
    response = client.get(f"/reserve/{query}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return _Elements(response.content.decode())


def _figure(elements: _Elements, element_id: str) -> tuple[str, str]:
    """(exact value, text as shown) of one key figure."""
    element = elements.found[element_id]
    return element["attrs"]["data-value"], " ".join(element["text"].split())


def _expected_json(*, supply: int, block: int, audit: Audit, headroom: int) -> dict:
    return {
        "chain_id": 31337,
        "token_address": deployment_get().token,
        "block_number": block,
        "total_supply_base_units": str(supply),
        "total_supply": f"{supply // 10**6}.{supply % 10**6:06d}",
        "audited_fine_oz": AUDITED_OZ,
        "pending_fine_oz": PENDING_OZ,
        "reserve_value_usd": VALUE,
        "collateral_ratio": "1.10",
        "coverage_ratio": None if supply == 0 else str(
            (Decimal(VALUE) * 10**6 / supply).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)),
        "pending_issue_base_units": "0",
        "headroom_base_units": str(headroom),
        "headroom": f"{headroom // 10**6}.{headroom % 10**6:06d}",
        "last_accepted_audit": {
            "as_of": timezone.localdate().isoformat(), "vault": VAULT, "firm": "Independent Assay LLP",
            "auditor": "auditor", "report_sha256": hashlib.sha256(REPORT).hexdigest(),
        },
        "bars_count": 120,
        "bars_csv_url": "http://testserver/reserve/bars.csv",
    }


# --- (a) the page and the JSON agree with totalSupply on anvil ----------------------------------

@pytest.mark.django_db(transaction=True)
def test_page_and_json_agree_with_the_supply_issued_on_chain_through_the_multisig(
    client, chain, celery_worker, settings
):
    settings.COLLATERAL_RATIO = RATIO
    audit = _gold_audited_and_priced()
    amount = 2_500_000_123_456  # 2,500,000.123456 USDKG: the sixth decimal must survive
    supply_before = _supply()
    _issue_through_the_spine(amount)
    supply = _supply()
    assert supply == supply_before + amount > 0
    block = chain_client().block_number()

    _published()  # the session's worker may publish too (after the execution): the same figures
    data = client.get("/api/reserve/").json()
    expected = _expected_json(supply=supply, block=block, audit=audit, headroom=BACKING - supply)
    assert data["read_from"] == "chain"
    assert {k: data[k] for k in expected} == expected
    assert Decimal(data["total_supply"]) * 10**6 == supply  # tokens and base units say the same thing

    page = _page(client)
    assert _figure(page, "total-supply") == (data["total_supply"], f"{grouped(tokens_str(supply))} USDKG")
    assert page.found["total-supply"]["attrs"]["data-base-units"] == str(supply) == data["total_supply_base_units"]
    assert _figure(page, "audited-oz") == (AUDITED_OZ, "47,995.200 oz")
    assert _figure(page, "pending-oz") == (PENDING_OZ, "348.740 oz")
    assert _figure(page, "gold-price") == (PRICE, "2,650.5000 USD/oz")
    assert _figure(page, "reserve-value") == (VALUE, "127,211,277.60 USD")
    assert _figure(page, "headroom") == (data["headroom"], f"{grouped(data['headroom'])} USDKG")
    assert page.found["headroom"]["attrs"]["data-base-units"] == str(BACKING - supply)
    assert _figure(page, "coverage-ratio")[0] == data["coverage_ratio"]
    assert _figure(page, "collateral-ratio")[0] == "1.10"
    assert _figure(page, "block-number") == (str(block), f"{block:,}")
    assert page.found["audit-report-sha256"]["text"] == hashlib.sha256(REPORT).hexdigest()
    assert "chain-unavailable" not in page.found


# --- (b) the JSON: no login, every field, exact strings ------------------------------------------

@pytest.mark.django_db
def test_json_needs_no_login_and_publishes_every_figure_exactly(client, chain, settings):
    settings.COLLATERAL_RATIO = RATIO
    audit = _gold_audited_and_priced()
    supply, block = _supply(), chain_client().block_number()
    price = GoldPrice.objects.get()
    snapshots = list(ReserveSnapshot.objects.order_by("taken_at"))

    published = _published()
    # Anonymous, and a bogus credential changes nothing: the endpoint authenticates no one.
    response = client.get("/api/reserve/", HTTP_AUTHORIZATION="Token not-a-real-token")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data == {
        "as_of": published.as_of.isoformat().replace("+00:00", "Z"),
        "read_from": "chain",
        **_expected_json(supply=supply, block=block, audit=audit, headroom=max(0, BACKING - supply)),
        "gold_price": {"usd_per_oz": PRICE, "source": "LBMA Gold Price PM",
                       "as_of": price.as_of.isoformat()},
        "history": [
            {"taken_at": s.taken_at.isoformat(), "block_number": block, "audited_fine_oz": AUDITED_OZ,
             "pending_fine_oz": PENDING_OZ, "usd_per_oz": usd, "reserve_value_usd": value,
             "total_supply_base_units": str(supply), "total_supply": f"{supply // 10**6}.{supply % 10**6:06d}"}
            for s, usd, value in zip(snapshots, [None, PRICE], ["0.000000", VALUE], strict=True)
        ],
        "journal_anchor": None,  # never anchored in this test (backoffice/journal/tests/test_anchors.py)
    }


@pytest.mark.django_db
def test_json_is_in_the_openapi_schema_without_any_security_requirement():
    from drf_spectacular.generators import SchemaGenerator

    from issuance.public.urls import urlpatterns

    schema = SchemaGenerator(patterns=urlpatterns).get_schema(request=None, public=True)
    operation = schema["paths"]["/api/reserve/"]["get"]
    assert operation["operationId"] == "reserve_proof"
    assert not operation.get("security")
    assert set(operation["responses"]) == {"200", "503"}
    fields = schema["components"]["schemas"]["Reserve"]["properties"]
    assert {"total_supply_base_units", "total_supply", "audited_fine_oz", "pending_fine_oz", "gold_price",
            "reserve_value_usd", "collateral_ratio", "headroom_base_units", "block_number", "last_accepted_audit",
            "bars_count", "bars_csv_url", "history"} <= set(fields)
    assert fields["total_supply_base_units"]["type"] == "string"


# --- (c) the bar list: pages of 50, a fixed number of queries, and the CSV ----------------------

@pytest.mark.django_db
def test_bar_list_pages_by_fifty_at_a_fixed_query_count(client, chain):
    _gold_audited_and_priced()
    _published()

    with CaptureQueriesContext(connection) as first_page:
        first = _page(client)
    with CaptureQueriesContext(connection) as last_page:
        last = _page(client, "?page=3")

    rows = [r for r in first.found["bars-table"]["text"].split("\n") if r.strip().startswith("VC-")]
    assert len(rows) == 50 and rows[0].strip().startswith("VC-0001") and rows[-1].strip().startswith("VC-0050")
    last_rows = [r for r in last.found["bars-table"]["text"].split("\n") if r.strip().startswith("VC-")]
    assert len(last_rows) == 20 and last_rows[-1].strip().startswith("VC-0120")
    assert "PB-" not in first.found["bars-table"]["text"] + last.found["bars-table"]["text"]
    assert "DR-" not in first.found["bars-table"]["text"] + last.found["bars-table"]["text"]
    assert "Page 1 of 3" in first.found["bars-pages"]["text"]
    assert first.found["bars-csv"]["attrs"]["href"] == "/reserve/bars.csv"
    assert first.found["bars-count"]["attrs"]["data-value"] == "120"
    # 50 bars or 20, the page costs the same: no query per bar (vault comes with select_related), and the
    # figures, the audit and the chart come from what the worker published: the journal's head (the bars
    # table's cache key), the bars' count and page only.
    assert len(first_page.captured_queries) == len(last_page.captured_queries) == 3
    # The same page again, nothing changed: the bars table comes from the cache, only the head is read.
    with CaptureQueriesContext(connection) as again:
        assert _page(client, "?page=3").found["bars-table"]["text"] == last.found["bars-table"]["text"]
    assert len(again.captured_queries) == 1

    # Out of range or malformed page numbers give the nearest page, never an error.
    assert "Page 3 of 3" in _page(client, "?page=99").found["bars-pages"]["text"]
    assert "Page 1 of 3" in _page(client, "?page=abc").found["bars-pages"]["text"]


@pytest.mark.django_db
def test_csv_streams_every_audited_bar_and_none_pending_or_draft(client, chain):
    _gold_audited_and_priced()

    response = client.get("/reserve/bars.csv")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="usdkg-audited-bars-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == LBMA_HEADER
    assert rows[1] == ["VC-0001", "Valcambi", "2024", "400.000", "999.90", "399.960", VAULT]
    assert [r[0] for r in rows[1:]] == [serial for serial, *_ in AUDITED]
    assert sum(Decimal(r[5]) for r in rows[1:]) == Decimal(AUDITED_OZ)
    # The pending and draft bars exist, but back nothing and are not published as reserve.
    assert Bar.objects.filter(serial__in=["PB-0001", "PB-0002", "DR-0001"]).count() == 3


# --- (d) a chain that cannot be read -----------------------------------------------------------

def _node_down(settings):
    settings.CHAIN_RPC_URL = CLOSED_PORT


def _nothing_deployed(settings):
    Deployment.objects.all().delete()


def _node_serves_another_chain(settings):
    deployment = Deployment.objects.get()
    Deployment.objects.filter(pk=deployment.pk).update(chain_id=1)
    settings.CHAIN_ID = 1  # the deployment row says chain 1; anvil answers 31337


def _no_contract_at_the_token(settings):
    Deployment.objects.update(token=dev_account(18).address)  # an account, no code: a reset node


@pytest.mark.django_db
@pytest.mark.parametrize("break_chain", [_node_down, _nothing_deployed, _node_serves_another_chain,
                                         _no_contract_at_the_token])
def test_unreadable_chain_shows_a_notice_on_the_page_and_503_in_json(client, chain, settings, break_chain):
    audit = _gold_audited_and_priced()
    _published()
    break_chain(settings)
    assert _published().figures is None  # the worker publishes that it cannot read the chain, not older figures

    page = _page(client)
    assert "Chain unavailable" in page.found["chain-unavailable"]["text"]
    assert "total-supply" not in page.found and "headroom" not in page.found
    # What does not depend on the chain is still published.
    assert page.found["audit-report-sha256"]["text"] == audit.report_sha256
    assert page.found["bars-count"]["attrs"]["data-value"] == "120"
    assert "reserve-chart" in page.found

    response = client.get("/api/reserve/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["error"] == "chain_unavailable"
    assert CLOSED_PORT not in response.content.decode()  # the RPC endpoint (it may hold a key) is not shown


# --- the chart ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_chart_has_two_lines_from_the_snapshots_oldest_first(client, chain):
    _gold_audited_and_priced(snapshots=3)
    _published()
    response = client.get("/reserve/")
    html = response.content.decode()

    svg = html[html.index('<svg id="reserve-chart"'):html.index("</svg>")]
    assert svg.count("<polyline") == 2
    assert 'id="chart-reserve-value"' in svg and 'id="chart-total-supply"' in svg
    assert "Reserve value (USD)" in svg and "Total supply (USDKG = USD)" in svg and "Snapshot time (UTC)" in svg
    value_points = _Elements(html).found["chart-reserve-value"]["attrs"]["points"].split()
    # Left to right: before the price (value 0, on the x axis), then 127,211,277.60 USD on a 0-200M scale.
    assert value_points == ["84.0,274.0", value_points[1], "736.0,127.7"]
    assert value_points[1].endswith(",127.7")


@pytest.mark.django_db
@pytest.mark.parametrize("snapshots", [0, 1])
def test_fewer_than_two_snapshots_say_no_history_yet(client, chain, snapshots):
    _gold_audited_and_priced(snapshots=snapshots)
    _published()
    page = _page(client)
    assert "reserve-chart" not in page.found
    assert "No history yet" in page.found["reserve-chart-empty"]["text"]


@pytest.mark.django_db
def test_before_any_gold_everything_is_zero_or_null_and_nothing_breaks(client, chain):
    supply = _supply()
    _published()

    data = client.get("/api/reserve/").json()
    figures = (data["audited_fine_oz"], data["pending_fine_oz"], data["reserve_value_usd"])
    assert figures == ("0.000", "0.000", "0.000000")
    assert (data["gold_price"], data["last_accepted_audit"], data["bars_count"], data["history"]) == (None, None, 0, [])
    assert data["headroom_base_units"] == "0"
    assert data["coverage_ratio"] == (None if supply == 0 else "0.0000")

    page = _page(client)
    assert _figure(page, "gold-price") == ("", "none recorded")
    assert "No audit has been accepted yet" in page.found["last-audit"]["text"]
    assert "No history yet" in page.found["reserve-chart-empty"]["text"]
    assert "bars-table" not in page.found


def test_tokens_are_formatted_from_base_units_with_integers_only():
    assert tokens_str(0) == "0.000000"
    assert tokens_str(1) == "0.000001"
    assert tokens_str(1_250_000_000) == "1250.000000"
    assert tokens_str(10**60 + 7) == "1" + "0" * 54 + ".000007"  # far beyond a float's 53 bits
    assert grouped("1234567.000001") == "1,234,567.000001"


# --- (e) a real browser ------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_visitor_sees_the_figures_and_the_chart_in_a_browser(live_server, page, chain, settings, tmp_path):
    settings.COLLATERAL_RATIO = RATIO
    _gold_audited_and_priced()
    supply = _supply()
    _published()

    page.goto(f"{live_server.url}/reserve/")

    assert page.locator("#total-supply").get_attribute("data-base-units") == str(supply)
    assert page.locator("#total-supply").inner_text() == f"{grouped(tokens_str(supply))} USDKG"
    assert page.locator("#audited-oz").inner_text() == "47,995.200 oz"
    assert page.locator("#pending-oz").inner_text() == "348.740 oz"
    assert page.locator("#reserve-value").inner_text() == "127,211,277.60 USD"
    assert page.locator("#gold-price").inner_text() == "2,650.5000 USD/oz"
    assert page.locator("#audit-firm").inner_text() == "Independent Assay LLP"
    assert page.locator("#reserve-chart").is_visible()
    assert page.locator("#reserve-chart polyline").count() == 2
    assert page.locator("#bars-table tbody tr").count() == 50
    assert page.locator("#chain-unavailable").count() == 0
    screenshot = tmp_path / "proof-of-reserve.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000


def test_the_figures_are_read_from_chain_by_the_worker_never_by_a_request(client, chain, settings, gold_backing):
    from issuance.tests.factories import issue_on_chain

    first = _published().figures["total_supply_base_units"]
    issue_on_chain(amount=3_000_000, recipient=dev_account(17).address)
    assert client.get("/api/reserve/").json()["total_supply_base_units"] == first  # the request read nothing
    settings.CHAIN_RPC_URL = CLOSED_PORT  # and a node that does not answer cannot slow or break it
    assert client.get("/api/reserve/").json()["total_supply_base_units"] == first
    assert "total-supply" in _page(client).found
    settings.CHAIN_RPC_URL = chain.node.url

    _published()  # the worker's next refresh
    assert int(client.get("/api/reserve/").json()["total_supply_base_units"]) == int(first) + 3_000_000


# --- (f) a cold cache: the database alone, never the node ----------------------------------------

@pytest.mark.django_db
def test_a_cold_cache_serves_the_last_snapshot_and_says_so_without_asking_the_node(client, chain, settings):
    settings.COLLATERAL_RATIO = RATIO
    audit = _gold_audited_and_priced()
    snapshot = ReserveSnapshot.objects.order_by("-taken_at").first()
    _cold()
    settings.CHAIN_RPC_URL = CLOSED_PORT  # any node call would fail the request

    response = client.get("/api/reserve/")

    assert response.status_code == 200
    data = response.json()
    supply = int(snapshot.total_supply)
    assert (data["read_from"], data["as_of"], data["block_number"]) == (
        "snapshot", snapshot.taken_at.isoformat().replace("+00:00", "Z"), snapshot.block_number)
    expected = _expected_json(supply=supply, block=snapshot.block_number, audit=audit,
                              headroom=max(0, BACKING - supply))
    assert {k: data[k] for k in expected} == expected
    assert cache.get(QUEUED_KEY)  # a refresh by the worker is on its way
    page = _page(client)
    assert page.found["figures-as-of"]["attrs"]["data-read-from"] == "snapshot"
    assert "from the last reserve snapshot" in page.found["figures-as-of"]["text"]
    assert _figure(page, "block-number")[0] == str(snapshot.block_number)


@pytest.mark.django_db
def test_a_cold_cache_before_any_snapshot_publishes_nothing_yet(client, chain, settings):
    _cold()
    settings.CHAIN_RPC_URL = CLOSED_PORT

    response = client.get("/api/reserve/")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json()["error"] == "not_yet_published"
    page = _page(client)
    assert "Figures not published yet" in page.found["figures-pending"]["text"]
    assert "total-supply" not in page.found and "chain-unavailable" not in page.found


@pytest.mark.django_db
def test_what_the_worker_publishes_is_the_schema_s_shape_rendered_once(client, chain):
    from issuance.public.serializers import ReserveSerializer

    _gold_audited_and_priced()
    published = _published()
    data = client.get("/api/reserve/").json()
    assert set(data) == set(ReserveSerializer().fields)
    assert published.api_json is not None and b"urn:usdkg:bars-csv-url" in published.api_json
    assert data["bars_csv_url"] == "http://testserver/reserve/bars.csv"
    # The host the request came to, whatever it is, and escaped as JSON.
    assert client.get("/api/reserve/", HTTP_HOST="localhost").json()["bars_csv_url"] == \
        "http://localhost/reserve/bars.csv"


@pytest.mark.django_db
def test_changes_that_move_the_figures_ask_the_worker_to_publish_after_commit(
    chain, django_capture_on_commit_callbacks, private_queue
):
    _cold()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.reserve_snapshot_take(client=chain_client())
    assert callbacks and cache.get(QUEUED_KEY) is None  # nothing sent before the commit
    with django_capture_on_commit_callbacks(execute=True):
        _price_record()
    assert cache.get(QUEUED_KEY)  # sent once committed; further reasons wait for that one message
    with django_capture_on_commit_callbacks(execute=True):
        _price_record()
    assert cache.get(QUEUED_KEY)


@pytest.mark.django_db(transaction=True)
def test_the_worker_publishes_an_accepted_gold_price_without_waiting_for_beat(client, chain, celery_worker):
    _gold_audited_and_priced(snapshots=1)
    _published()
    before = client.get("/api/reserve/").json()["gold_price"]
    operator = get_user_model().objects.get(username="operator")
    services.gold_price_record(usd_per_oz="2700.0000", source="LBMA Gold Price PM", actor=operator,
                               as_of=timezone.now() - timedelta(minutes=1))
    deadline = timezone.now() + timedelta(seconds=30)
    while client.get("/api/reserve/").json()["gold_price"] == before and timezone.now() < deadline:
        time.sleep(0.1)
    assert client.get("/api/reserve/").json()["gold_price"]["usd_per_oz"] == "2700.0000"
