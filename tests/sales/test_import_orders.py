"""Order import from CSV and XLSX: the command line and the pipeline behind it."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook

from customers import roles
from customers.models import Customer, JobRun
from sales import importing
from sales.models import Order, OrderLine, Sequence
from tests.factories import CustomerFactory, UserFactory
from tests.sales.factories import ProductFactory

pytestmark = pytest.mark.django_db

HEADER = ["customer_ref", "order_ref", "ordered_at", "amount", "product", "quantity", "cost", "customer_name"]


def write_csv(path, rows, header=HEADER):
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path, rows, header=HEADER):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def run(path, *args):
    """Run import_orders on a file with no bad rows; return its stdout."""
    out, err = io.StringIO(), io.StringIO()
    call_command("import_orders", str(path), *args, stdout=out, stderr=err)
    return out.getvalue()


def run_with_bad_rows(path, *args):
    """Run import_orders on a file with bad rows; return (the summary, the stderr lines)."""
    err = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_orders", str(path), *args, stdout=io.StringIO(), stderr=err)
    assert raised.value.returncode == 1
    return str(raised.value), err.getvalue().splitlines()


def snapshot():
    """Everything an import may write, to compare before and after."""
    return (
        list(Order.objects.order_by("pk").values_list("pk", "number", "order_ref", "amount", "cost", "status")),
        list(OrderLine.objects.order_by("pk").values_list("pk", "order_id", "amount", "cost")),
        list(Customer.objects.order_by("pk").values_list("pk", "external_ref", "name")),
        list(Sequence.objects.order_by("pk").values_list("prefix", "year", "last")),
    )


@pytest.fixture
def products(db):
    return {
        "CHAIR": ProductFactory(sku="CHAIR", name="办公椅 Office chair", unit_price="500", unit_cost="300.00"),
        "DESK": ProductFactory(sku="DESK", name="办公桌 Desk", unit_price="1200", unit_cost="700.00"),
    }


# Good rows ----------------------------------------------------------------------------------------


def test_rows_with_one_order_ref_make_one_order_with_lines_and_totals(tmp_path, owner, products):
    customer = CustomerFactory(external_ref="C1", owner=owner)
    path = write_csv(
        tmp_path / "orders.csv",
        [
            ["C1", "ERP-1", "2025-03-04", "1000.00", "CHAIR", "2", "", ""],
            ["C1", "ERP-2", "2025-03-05", "99.90", "", "", "", ""],
            ["C1", "ERP-1", "2025-03-04", "3600", "DESK", "3", "2000", ""],
        ],
    )

    output = run(path)

    assert "2 orders (3 lines) imported from 3 rows." in output
    first, second = Order.objects.order_by("order_ref")
    assert (first.order_ref, first.customer, first.owner) == ("ERP-1", customer, owner)
    assert first.ordered_at == datetime.date(2025, 3, 4)
    assert first.status == Order.Status.CONFIRMED
    assert first.confirmed_at.date() == datetime.date(2025, 3, 4)  # the order's date, not the import's
    assert first.delivered_at is None
    assert first.number.startswith("SO-2025-")
    # amount is the line amount; cost the file's, else the product's unit cost × quantity.
    lines = list(
        first.lines.order_by("pk").values_list("product__sku", "quantity", "unit_price", "unit_cost", "amount", "cost")
    )
    assert lines == [
        ("CHAIR", Decimal("2.00"), Decimal("500.00"), Decimal("300.00"), Decimal("1000.00"), Decimal("600.00")),
        ("DESK", Decimal("3.00"), Decimal("1200.00"), Decimal("666.67"), Decimal("3600.00"), Decimal("2000.00")),
    ]
    assert (first.amount, first.cost) == (Decimal("4600.00"), Decimal("2600.00"))
    assert first.lines.first().description == "办公椅 Office chair"
    # Without a product: quantity 1, no cost.
    line = second.lines.get()
    assert (line.product, line.quantity, line.unit_price, line.cost) == (None, 1, Decimal("99.90"), 0)
    assert (second.amount, second.cost) == (Decimal("99.90"), Decimal("0.00"))
    assert JobRun.objects.get(job="import_orders").status == JobRun.Status.SUCCEEDED


def test_order_numbers_follow_each_year_sequence_without_gaps(tmp_path):
    Sequence.objects.create(prefix="SO", year=2024, last=41)
    path = write_csv(
        tmp_path / "orders.csv",
        [
            ["C1", "A", "2024-12-31", "1", "", "", "", ""],
            ["C1", "B", "2025-01-01", "1", "", "", "", ""],
            ["C1", "C", "2024-06-01", "1", "", "", "", ""],
        ],
    )

    run(path)

    numbers = dict(Order.objects.values_list("order_ref", "number"))
    assert numbers == {"A": "SO-2024-000042", "B": "SO-2025-000001", "C": "SO-2024-000043"}
    assert Sequence.objects.get(prefix="SO", year=2024).last == 43


def test_missing_customers_are_created_with_their_name_and_found_by_search(tmp_path, team_manager):
    path = write_csv(
        tmp_path / "orders.csv",
        [
            ["NEW-1", "O1", "2025-01-02", "10", "", "", "", "华南贸易有限公司"],
            ["NEW-1", "O2", "2025-02-02", "10", "", "", "", ""],
            ["NEW-2", "O3", "2025-01-02", "10", "", "", "", ""],
        ],
    )

    run(path, "--actor", team_manager.username)

    named, unnamed = Customer.objects.order_by("external_ref")
    assert (named.external_ref, named.name) == ("NEW-1", "华南贸易有限公司")
    assert (unnamed.external_ref, unnamed.name) == ("NEW-2", "NEW-2")  # no name given: the reference
    # The importing sales manager owns the new customers, and so their orders.
    assert {named.owner, unnamed.owner} == {team_manager}
    assert set(Order.objects.values_list("owner", flat=True)) == {team_manager.pk}
    assert named.orders.count() == 2

    def found(text):
        return list(Customer.objects.search(text).values_list("external_ref", flat=True))

    assert found("华南贸易") == ["NEW-1"]
    assert found("new-2") == ["NEW-2"]
    assert Customer.history.filter(history_type="+", history_change_reason="imported").count() == 2


def test_status_column_accepts_codes_and_labels(tmp_path):
    path = write_csv(
        tmp_path / "orders.csv",
        [
            ["C1", "A", "2025-01-02", "10", "delivered"],
            ["C1", "B", "2025-01-02", "10", "Cancelled"],
            ["C1", "C", "2025-01-02", "10", "Draft"],
            ["C1", "C", "2025-01-02", "10", ""],  # a later line may leave it empty
        ],
        header=["customer_ref", "order_ref", "ordered_at", "amount", "status"],
    )

    run(path)

    orders = {o.order_ref: o for o in Order.objects.all()}
    assert orders["A"].status == "delivered" and orders["A"].delivered_at is not None
    assert orders["B"].status == "cancelled" and orders["B"].cancelled_at is not None
    assert orders["C"].status == "draft" and orders["C"].confirmed_at is None


def test_xlsx_with_excel_numbers_and_dates_imports(tmp_path, products):
    path = write_xlsx(
        tmp_path / "orders.xlsx",
        [
            [1001, 555, datetime.datetime(2025, 5, 6), 1234.5, "CHAIR", 3, None, "Excel Co"],
            [1001, 555, datetime.datetime(2025, 5, 6), 0.1 + 0.2, None, None, 0.1, None],
        ],
    )

    run(path)

    order = Order.objects.get()
    assert (order.order_ref, order.customer.external_ref, order.customer.name) == ("555", "1001", "Excel Co")
    assert order.ordered_at == datetime.date(2025, 5, 6)
    assert order.amount == Decimal("1234.80")
    assert order.cost == Decimal("900.10")


# Idempotence ----------------------------------------------------------------------------------------


def test_reimporting_the_same_file_changes_nothing(tmp_path, products):
    path = write_csv(
        tmp_path / "orders.csv",
        [
            ["C1", "A", "2025-01-02", "10", "CHAIR", "", "", "New Co"],
            ["C1", "A", "2025-01-02", "20", "DESK", "", "", ""],
            ["C2", "B", "2025-01-03", "30", "", "", "", ""],
        ],
    )
    run(path)
    before = snapshot()

    output = run(path)

    assert snapshot() == before
    assert "0 orders (0 lines) imported from 3 rows." in output
    assert "Orders already imported (unchanged): 2." in output
    counts = JobRun.objects.filter(job="import_orders").order_by("pk").last().counts
    assert counts["unchanged"] == 2 and counts["orders"] == 0


def test_an_order_ref_already_in_the_database_is_skipped(tmp_path):
    existing = CustomerFactory(external_ref="C1")
    CustomerFactory(external_ref="C9")
    path = write_csv(
        tmp_path / "orders.csv",
        [["C1", "SAME", "2025-01-02", "10", "", "", "", ""], ["C9", "OTHER", "2025-01-02", "5", "", "", "", ""]],
    )
    run(path)
    path = write_csv(
        tmp_path / "changed.csv",
        [["C9", "SAME", "2026-01-02", "999", "", "", "", ""], ["C9", "NEW", "2026-01-02", "1", "", "", "", ""]],
    )

    run(path)

    same = Order.objects.get(order_ref="SAME")
    assert (same.customer, same.amount, same.ordered_at) == (existing, Decimal("10.00"), datetime.date(2025, 1, 2))
    assert Order.objects.count() == 3


# Bad rows --------------------------------------------------------------------------------------------


def test_bad_rows_are_reported_by_line_and_reason_and_their_whole_order_is_skipped(tmp_path, products):
    CustomerFactory(external_ref="C1")
    path = write_csv(
        tmp_path / "orders.csv",
        [
            ["C1", "GOOD", "2025-01-02", "10", "CHAIR", "", "", ""],  # line 2
            ["C1", "BAD-SKU", "2025-01-02", "10", "NOPE", "", "", ""],  # 3
            ["C1", "BAD-SKU", "2025-01-02", "10", "", "", "", ""],  # 4: fine itself, its order is not
            ["C1", "BAD-DATE", "2025-13-40", "10", "", "", "", ""],  # 5
            ["C1", "NEG", "2025-01-02", "-5", "", "", "", ""],  # 6
            ["", "NO-CUSTOMER", "2025-01-02", "5", "", "", "", ""],  # 7
            ["C1", "", "2025-01-02", "5", "", "", "", ""],  # 8
            ["C1", "MIXED", "2025-01-02", "5", "", "", "", ""],  # 9
            ["C2", "MIXED", "2025-01-03", "5", "", "", "", ""],  # 10
            ["C1", "QTY", "2025-01-02", "5", "", "0", "", ""],  # 11
            ["C1", "COST", "2025-01-02", "5", "", "", "abc", ""],  # 12
            ["C1", "GOOD-2", "2025/01/05", "¥1,234.50", "", "", "", ""],  # 13
        ],
    )

    summary, errors = run_with_bad_rows(path)

    assert errors == [
        "line 3: unknown product SKU 'NOPE'",
        "line 4: order 'BAD-SKU' was skipped because line 3 has a problem",
        "line 5: ordered_at '2025-13-40' is not a date (YYYY-MM-DD)",
        "line 6: amount '-5' is negative",
        "line 7: customer_ref is empty",
        "line 8: order_ref is empty",
        "line 9: order 'MIXED' was skipped because line 10 has a problem",
        "line 10: order 'MIXED' has customer_ref 'C1' on line 9, not 'C2'",
        "line 10: order 'MIXED' has ordered_at '2025-01-02' on line 9, not '2025-01-03'",
        "line 11: quantity '0' must be more than 0",
        "line 12: cost 'abc' is not a number",
    ]
    assert "2 orders (2 lines) imported from 12 rows." in summary
    assert "Bad rows: 8; orders skipped: 7." in summary
    assert sorted(Order.objects.values_list("order_ref", flat=True)) == ["GOOD", "GOOD-2"]
    assert Order.objects.get(order_ref="GOOD-2").amount == Decimal("1234.50")
    assert OrderLine.objects.count() == 2
    # Nothing of a skipped order is written, not even its new customer.
    assert not Customer.objects.filter(external_ref="C2").exists()
    assert JobRun.objects.get(job="import_orders").status == JobRun.Status.FAILED


def test_a_file_without_a_required_column_is_rejected(tmp_path):
    path = write_csv(
        tmp_path / "orders.csv", [["C1", "2025-01-02", "5"]], header=["customer_ref", "ordered_at", "amount"]
    )

    summary, errors = run_with_bad_rows(path)

    assert errors == ["line 1: the header row has no 'order_ref' column (the first row must name the columns)"]
    assert summary == "The file could not be read; nothing was imported."
    assert Order.objects.count() == 0


def test_a_file_that_is_not_a_workbook_is_rejected(tmp_path):
    path = tmp_path / "orders.xlsx"
    path.write_bytes(b"not a zip")

    _summary, errors = run_with_bad_rows(path)

    assert errors == ["the file is not a valid Excel .xlsx workbook"]


def test_a_ui_import_may_not_add_orders_to_customers_outside_the_team(tmp_path, team_manager, owner, outsider):
    CustomerFactory(external_ref="MINE", owner=owner)
    CustomerFactory(external_ref="THEIRS", owner=outsider)
    path = write_csv(
        tmp_path / "orders.csv",
        [["MINE", "A", "2025-01-02", "10", "", "", "", ""], ["THEIRS", "B", "2025-01-02", "10", "", "", "", ""]],
    )

    result = importing.import_orders(path, actor=team_manager)

    assert result.errors == [(3, "you may not add orders to customer 'THEIRS'")]
    assert list(Order.objects.values_list("order_ref", "owner")) == [("A", owner.pk)]


# Scale --------------------------------------------------------------------------------------------------


def _import_queries(tmp_path, rows):
    ProductFactory(sku="CHAIR")
    CustomerFactory(external_ref="C0")
    lines = [
        [f"C{(n // 2) % 40}", f"O{n // 2}", "2025-01-02", "10", "CHAIR" if n % 3 else "", "", "", ""]
        for n in range(rows)
    ]
    path = write_csv(tmp_path / f"orders{rows}.csv", lines)
    with CaptureQueriesContext(connection) as queries:
        result = importing.import_orders(path)
    assert result.ok, result.errors[:3]
    assert Order.objects.count() == rows // 2
    return len(queries)


def test_import_queries_do_not_grow_with_the_number_of_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_ORDERS", 10_000)
    small = _import_queries(tmp_path, 20)
    Order.objects.all().delete()
    Customer.objects.all().delete()
    large = _import_queries(tmp_path, 2000)

    # The first run also creates the year's Sequence row; a query per row or order would add hundreds.
    assert large <= small


def test_chunks_reuse_customers_created_by_earlier_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_ORDERS", 2)
    path = write_csv(tmp_path / "orders.csv", [["NEW", f"O{n}", "2025-01-02", "1", "", "", "", ""] for n in range(7)])

    run(path)

    assert Customer.objects.filter(external_ref="NEW").count() == 1
    assert Customer.objects.get(external_ref="NEW").orders.count() == 7


def test_an_admin_may_import_for_any_customer(tmp_path, owner):
    admin = UserFactory(username="boss", roles=[roles.ADMIN])
    CustomerFactory(external_ref="X", owner=owner)
    path = write_csv(tmp_path / "orders.csv", [["X", "A", "2025-01-02", "10", "", "", "", ""]])

    result = importing.import_orders(path, actor=admin)

    assert result.ok
    assert Order.objects.get().created_by == admin
