import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from customers import services
from customers.export import neutralise
from customers.models import Customer
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")


def make(owner, name, **data):
    return services.customer_create(actor=owner, data={"name": name, "owner": owner, "phone": "13800138000", **data})


def csv_rows(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode()), "the CSV has no UTF-8 byte order mark (Excel would garble Chinese)"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def xlsx_sheet(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(io.BytesIO(response.content)).active


def names_in_csv(rows):
    name = rows[0].index("Name")
    return [row[name] for row in rows[1:]]


def names_in_xlsx(sheet):
    rows = list(sheet.iter_rows(values_only=True))
    name = rows[0].index("Name")
    return [row[name] for row in rows[1:]]


@pytest.fixture
def book(owner, teammate, outsider):
    make(owner, "Alpha 华强电子", category=Customer.Category.CHANNEL, region="广东")
    make(owner, "Beta Foods", region="北京")
    make(teammate, "Teammate Co", category=Customer.Category.CHANNEL)
    make(outsider, "Outsider Co")
    archived = make(owner, "Gone Ltd")
    services.customer_archive(customer=archived, actor=owner)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_has_only_visible_active_customers(login, owner, outsider, team_manager, book, fmt):
    def names(user, **params):
        response = login(user).get(LIST, {"export": fmt, **params})
        return names_in_csv(csv_rows(response)) if fmt == "csv" else names_in_xlsx(xlsx_sheet(response))

    assert names(owner) == ["Alpha 华强电子", "Beta Foods"]
    assert names(outsider) == ["Outsider Co"]
    assert names(team_manager) == ["Alpha 华强电子", "Beta Foods", "Teammate Co"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_respects_the_active_filters(login, team_manager, book, fmt):
    def names(**params):
        response = login(team_manager).get(LIST, {"export": fmt, **params})
        return names_in_csv(csv_rows(response)) if fmt == "csv" else names_in_xlsx(xlsx_sheet(response))

    assert names(category="channel") == ["Alpha 华强电子", "Teammate Co"]
    assert names(region="北京") == ["Beta Foods"]
    assert names(q="华强") == ["Alpha 华强电子"]
    assert names(archived="archived") == ["Gone Ltd"]
    assert names(category="channel", sort="-name") == ["Teammate Co", "Alpha 华强电子"]


def test_export_is_not_cut_to_one_page(login, owner):
    CustomerFactory.create_batch(30, owner=owner)

    rows = csv_rows(login(owner).get(LIST, {"export": "csv", "per_page": 25, "page": 2}))

    assert len(rows) == 31


def test_export_is_a_download_named_by_date(login, owner, book):
    response = login(owner).get(LIST, {"export": "xlsx"})

    assert response["Content-Disposition"].startswith('attachment; filename="customers-')
    assert response["Content-Disposition"].endswith('.xlsx"')


def test_export_columns_carry_owner_and_tags(login, owner):
    customer = make(owner, "Tagged Co", external_ref="ERP-1")
    customer.tags.set([TagFactory(name="vip"), TagFactory(name="north")])

    rows = csv_rows(login(owner).get(LIST, {"export": "csv"}))
    row = dict(zip(rows[0], rows[1], strict=True))

    assert row["External reference"] == "ERP-1"
    assert row["Account manager"] == "owner"
    assert row["Tags"] == "north, vip"
    assert row["Phone"] == "13800138000"


def test_export_queries_do_not_grow_with_rows(login, owner, django_assert_max_num_queries):
    tags = [TagFactory(name="a"), TagFactory(name="b")]
    client = login(owner)
    for _ in range(3):
        CustomerFactory(owner=owner).tags.set(tags)
    csv_rows(client.get(LIST, {"export": "csv"}))
    with CaptureQueriesContext(connection) as few:
        csv_rows(client.get(LIST, {"export": "csv"}))
    for _ in range(40):
        CustomerFactory(owner=owner).tags.set(tags)

    with django_assert_max_num_queries(len(few)):
        rows = csv_rows(client.get(LIST, {"export": "csv"}))
    assert len(rows) == 44


DANGEROUS = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-3+4", "@SUM(A1)", "\tTAB=1", "\rCR=1"]


@pytest.fixture
def dangerous(owner):
    """Cell texts a spreadsheet would run as formulas (stored raw, as an import or the admin could)."""
    for i, text in enumerate(DANGEROUS):
        CustomerFactory(owner=owner, name=f"{i} {text}", city=text)


def test_csv_neutralises_formula_cells(login, owner, dangerous):
    rows = csv_rows(login(owner).get(LIST, {"export": "csv"}))
    city = rows[0].index("City")

    cities = sorted(row[city] for row in rows[1:])

    assert cities == sorted("'" + text for text in DANGEROUS)


def test_xlsx_neutralises_formula_cells_as_plain_text(login, owner, dangerous):
    sheet = xlsx_sheet(login(owner).get(LIST, {"export": "xlsx"}))
    header = [cell.value for cell in sheet[1]]
    city = header.index("City")

    cells = [row[city] for row in sheet.iter_rows(min_row=2)]

    assert len(cells) == len(DANGEROUS)
    for cell in cells:
        assert cell.data_type == "s", f"{cell.value!r} is stored as {cell.data_type}, not text"
        assert isinstance(cell.value, str)
        assert cell.value.startswith("'")
        assert not cell.value.startswith("''")
    # XML line-end normalisation turns a stored CR into LF when the file is read back; the apostrophe is what counts.
    assert sorted(cell.value for cell in cells) == sorted("'" + text.replace("\r", "\n") for text in DANGEROUS)


def test_harmless_text_and_numbers_pass_unchanged():
    assert neutralise("Acme") == "Acme"
    assert neutralise("13800138000") == "13800138000"
    assert neutralise("a=b") == "a=b"
    assert neutralise(-5) == -5
    assert neutralise("") == ""


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_chinese_text_survives_the_export(login, owner, fmt):
    make(owner, "深圳市华强电子有限公司", region="广东", city="深圳")

    response = login(owner).get(LIST, {"export": fmt})

    if fmt == "csv":
        rows = csv_rows(response)
        row = dict(zip(rows[0], rows[1], strict=True))
    else:
        sheet = xlsx_sheet(response)
        header, values = list(sheet.iter_rows(values_only=True))[:2]
        row = dict(zip(header, values, strict=True))
    assert (row["Name"], row["Region"], row["City"]) == ("深圳市华强电子有限公司", "广东", "深圳")
