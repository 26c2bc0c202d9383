"""Inventory snapshot import: the command, the upload page, all rows or none, re-imports, bad rows by line."""

import datetime
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import Workbook

from analytics.models import InventorySnapshot
from analytics.services.inventory import inventory_import
from customers.models import JobRun
from tests.factories import UserFactory
from tests.sales.factories import ProductFactory

pytestmark = pytest.mark.django_db

UPLOAD = reverse("analytics:inventory_import")
GOOD = (
    "sku,taken_on,quantity,value_at_cost\n"
    "CH-1,2026-03-31,120,36000.00\n"
    "CH-1,2026-04-30,100,30000\n"
    'DK-2,2026-03-31,45,"13,500.50"\n'
)


@pytest.fixture
def products():
    return ProductFactory(sku="CH-1"), ProductFactory(sku="DK-2")


def write(tmp_path, text, name="stock.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8-sig")
    return path


def stored():
    return {
        (s.product.sku, s.taken_on.isoformat()): (s.quantity, s.value_at_cost, s.imported_at)
        for s in InventorySnapshot.objects.select_related("product")
    }


def test_good_file_adds_every_snapshot(tmp_path, products):
    result = inventory_import(write(tmp_path, GOOD))
    assert result.ok
    assert result.counts == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0}
    values = {key: (quantity, value) for key, (quantity, value, _at) in stored().items()}
    assert values == {
        ("CH-1", "2026-03-31"): (Decimal("120"), Decimal("36000")),
        ("CH-1", "2026-04-30"): (Decimal("100"), Decimal("30000")),
        ("DK-2", "2026-03-31"): (Decimal("45"), Decimal("13500.50")),
    }


def test_reimport_changes_nothing_and_a_changed_row_updates(tmp_path, products):
    path = write(tmp_path, GOOD)
    inventory_import(path)
    before = stored()
    again = inventory_import(path)
    assert again.counts == {"rows": 3, "created": 0, "updated": 0, "unchanged": 3}
    assert stored() == before  # not even the import time moved
    changed = GOOD.replace("CH-1,2026-04-30,100,30000", "CH-1,2026-04-30,90,27000") + "DK-2,2026-04-30,40,12000\n"
    result = inventory_import(write(tmp_path, changed, "stock2.csv"))
    assert result.counts == {"rows": 4, "created": 1, "updated": 1, "unchanged": 2}
    assert stored()[("CH-1", "2026-04-30")][:2] == (Decimal("90"), Decimal("27000"))
    assert InventorySnapshot.objects.count() == 4


def test_bad_rows_are_reported_by_line_and_nothing_is_written(tmp_path, products):
    inventory_import(write(tmp_path, GOOD))
    before = stored()
    tomorrow = (datetime.date.today() + datetime.timedelta(days=2)).isoformat()
    bad = (
        "sku,taken_on,quantity,value_at_cost\n"
        "CH-1,2026-03-31,999,1.00\n"  # good on its own (would update)
        "NOPE,2026-03-31,1,1\n"
        "CH-1,31/03/2026,1,1\n"
        "DK-2,2026-05-31,-3,1\n"
        "DK-2,2026-06-30,3,-1\n"
        "CH-1,2026-03-31,5,5\n"
        f"CH-1,{tomorrow},1,1\n"
        "DK-2,2026-07-31,lots,\n"
    )
    result = inventory_import(write(tmp_path, bad))
    assert not result.ok
    assert result.errors == [
        (3, "unknown product SKU 'NOPE'"),
        (4, "taken_on '31/03/2026' is not a date (YYYY-MM-DD)"),
        (5, "quantity '-3' is negative"),
        (6, "value_at_cost '-1' is negative"),
        (7, "the same product and date as line 2"),
        (8, f"taken_on '{tomorrow}' is in the future"),
        (9, "quantity 'lots' is not a number"),
        (9, "value_at_cost is empty"),
    ]
    assert stored() == before


def test_file_without_a_required_column(tmp_path, products):
    result = inventory_import(write(tmp_path, "sku,taken_on,quantity\nCH-1,2026-03-31,1\n"))
    assert result.errors == [(1, "the header row has no 'value_at_cost' column (the first row must name the columns)")]
    assert not InventorySnapshot.objects.exists()


def test_xlsx_file(tmp_path, products):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["SKU", "Date", "Qty", "Value at cost"])
    sheet.append(["CH-1", datetime.date(2026, 3, 31), 12, 3600.5])
    path = tmp_path / "stock.xlsx"
    workbook.save(path)
    result = inventory_import(path)
    assert result.counts["created"] == 1
    assert stored()[("CH-1", "2026-03-31")][:2] == (Decimal("12"), Decimal("3600.50"))


def test_command(tmp_path, products):
    out = io.StringIO()
    call_command("import_inventory", str(write(tmp_path, GOOD)), stdout=out)
    assert "3 rows read: 3 snapshots added, 0 updated, 0 unchanged." in out.getvalue()
    assert JobRun.objects.get(job="import_inventory").status == JobRun.Status.SUCCEEDED
    err = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("import_inventory", str(write(tmp_path, GOOD + "ZZ,2026-03-31,1,1\n", "bad.csv")), stderr=err)
    assert failure.value.returncode == 1
    assert "line 5: unknown product SKU 'ZZ'" in err.getvalue()
    assert "1 bad row in 4; nothing was imported." in str(failure.value)
    assert InventorySnapshot.objects.count() == 3


def upload(client, name, content):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, content.encode("utf-8"))})


def test_admin_uploads_a_file(login, admin_user, products):
    client = login(admin_user)
    page = client.get(UPLOAD)
    assert page.status_code == 200 and "value_at_cost" in page.content.decode()
    response = upload(client, "stock.csv", GOOD)
    assert response.status_code == 302 and response.url == UPLOAD
    html = client.get(UPLOAD).content.decode()
    assert "3 rows read: 3 snapshots added, 0 updated, 0 unchanged." in html
    assert 'id="recent-snapshots"' in html
    assert InventorySnapshot.objects.count() == 3
    upload(client, "stock.csv", GOOD)
    assert "3 rows read: 0 snapshots added, 0 updated, 3 unchanged." in client.get(UPLOAD).content.decode()


def test_upload_with_bad_rows_lists_them(login, admin_user, products):
    response = upload(login(admin_user), "stock.csv", GOOD + "ZZ,2026-03-31,1,1\nCH-1,2026-13-01,1,1\n")
    assert response.status_code == 200
    html = response.content.decode()
    assert "2 bad rows in 5; nothing was imported." in html
    assert '<td class="text-nowrap">5</td><td>unknown product SKU &#x27;ZZ&#x27;</td>' in html
    assert '<td class="text-nowrap">6</td><td>taken_on &#x27;2026-13-01&#x27; is not a date (YYYY-MM-DD)</td>' in html
    assert not InventorySnapshot.objects.exists()


def test_who_may_import(login, owner, team_manager, service_agent, marketer, manager, admin_user):
    # Managers read everything and change nothing.
    for user in (owner, team_manager, service_agent, marketer, manager):
        assert login(user).get(UPLOAD).status_code == 404
        assert login(user).post(UPLOAD).status_code == 404
    # The products page links to the import for those who may use it.
    assert 'id="inventory-import-link"' in login(admin_user).get(reverse("analytics:products")).content.decode()
    assert 'id="inventory-import-link"' not in login(manager).get(reverse("analytics:products")).content.decode()
    assert 'id="inventory-import-link"' not in login(owner).get(reverse("analytics:products")).content.decode()
    clerk = UserFactory(username="clerk", roles=["sales rep"])
    clerk.user_permissions.add(Permission.objects.get(codename="add_inventorysnapshot"))
    assert login(clerk).get(UPLOAD).status_code == 200
