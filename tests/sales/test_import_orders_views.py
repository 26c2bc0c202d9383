"""The order upload page: permissions, the Celery job, the progress panel and the list of bad rows."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer, ImportJob, JobRun
from sales.models import Order
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

GOOD = (
    "customer_ref,order_ref,ordered_at,amount,quantity,customer_name\n"
    "C1,ERP-1,2025-03-04,100.00,2,\n"
    "C1,ERP-1,2025-03-04,50.00,1,\n"
    "NEW-9,ERP-2,2025-03-05,70,,新客户\n"
).encode("utf-8-sig")


def upload(client, name, content):
    return client.post(reverse("sales:order_import"), {"file": SimpleUploadedFile(name, content)})


def test_sales_manager_uploads_orders_and_sees_the_counts(
    login, team_manager, owner, django_capture_on_commit_callbacks
):
    CustomerFactory(external_ref="C1", owner=owner)
    client = login(team_manager)
    page = client.get(reverse("sales:order_import"))
    assert page.status_code == 200
    assert "customer_ref" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "订单.csv", GOOD)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("sales:order_import_detail", args=[job.pk])
    assert (job.kind, job.status, job.errors) == ("orders", ImportJob.Status.SUCCEEDED, [])
    assert job.counts["orders"] == 2 and job.counts["lines"] == 3 and job.counts["customers_created"] == 1
    assert Order.objects.get(order_ref="ERP-1").amount == Decimal("150.00")
    # The new customer belongs to the sales manager who imported it.
    assert Customer.objects.get(external_ref="NEW-9").owner == team_manager
    assert JobRun.objects.get(job="import_orders").status == JobRun.Status.SUCCEEDED

    html = client.get(response.url).content.decode()
    assert '<dd class="col-sm-8" data-count="orders">2</dd>' in html
    assert "every 1s" not in html  # finished: no more polling

    # The same file again: nothing new, the page says so.
    with django_capture_on_commit_callbacks(execute=True):
        again = upload(client, "订单.csv", GOOD)
    html = client.get(again.url).content.decode()
    assert '<dd class="col-sm-8" data-count="unchanged">2</dd>' in html
    assert Order.objects.count() == 2


def test_upload_with_bad_rows_saves_the_good_orders_and_lists_the_bad_rows(
    login, team_manager, django_capture_on_commit_callbacks
):
    content = (
        b"customer_ref,order_ref,ordered_at,amount,product\n"
        b"C1,A,2025-01-02,10,\nC1,B,2025-01-02,10,NOPE\nC1,C,soon,5,\n"
    )
    client = login(team_manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "bad.csv", content)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert job.errors == [
        {"line": 3, "reason": "unknown product SKU 'NOPE'"},
        {"line": 4, "reason": "ordered_at 'soon' is not a date (YYYY-MM-DD)"},
    ]
    assert list(Order.objects.values_list("order_ref", flat=True)) == ["A"]
    html = client.get(response.url).content.decode()
    assert "Import finished; some orders were skipped." in html
    assert "2 rows have problems" in html
    assert "unknown product SKU &#x27;NOPE&#x27;" in html


def test_a_file_without_the_order_columns_fails_and_says_why(login, team_manager, django_capture_on_commit_callbacks):
    client = login(team_manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, "customers.csv", b"name,phone\nAcme,1380000\n")

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    html = client.get(response.url).content.decode()
    assert "Nothing was imported." in html
    assert "the header row has no &#x27;customer_ref&#x27; column" in html


def test_progress_panel_polls_until_the_job_is_finished(login, team_manager):
    job = ImportJob.objects.create(
        kind="orders",
        file="imports/x.csv",
        original_name="x.csv",
        created_by=team_manager,
        status=ImportJob.Status.WRITING,
        total_rows=2000,
        processed_rows=500,
    )
    client = login(team_manager)

    panel = client.get(reverse("sales:order_import_status", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()

    assert 'hx-trigger="every 1s"' in panel
    assert reverse("sales:order_import_status", args=[job.pk]) in panel
    assert 'aria-valuenow="25"' in panel
    assert "500 of 2,000 rows" in panel


@pytest.mark.parametrize("persona", ["owner", "outsider", "manager", "service_agent", "marketer"])
def test_reps_and_other_roles_get_403(request, login, persona):
    client = login(request.getfixturevalue(persona))

    assert client.get(reverse("sales:order_import")).status_code == 403
    assert upload(client, "x.csv", GOOD).status_code == 403
    assert ImportJob.objects.count() == 0


def test_the_import_orders_permission_opens_the_page(login, owner):
    owner.user_permissions.add(Permission.objects.get(codename="import_orders"))

    assert login(owner).get(reverse("sales:order_import")).status_code == 200


def test_someone_elses_import_is_404_and_customer_imports_are_not_order_imports(login, team_manager, admin_user):
    job = ImportJob.objects.create(kind="orders", file="imports/x.csv", original_name="x.csv", created_by=team_manager)
    customer_job = ImportJob.objects.create(file="imports/y.csv", original_name="y.csv", created_by=team_manager)
    other_manager = UserFactory(username="othermanager", roles=["sales manager"])
    client = login(other_manager)

    assert client.get(reverse("sales:order_import_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("sales:order_import_status", args=[job.pk])).status_code == 404
    assert login(team_manager).get(reverse("sales:order_import_detail", args=[customer_job.pk])).status_code == 404
    assert login(admin_user).get(reverse("sales:order_import_detail", args=[job.pk])).status_code == 200


def test_upload_form_rejects_other_file_types(login, team_manager):
    response = upload(login(team_manager), "orders.txt", GOOD)

    assert response.status_code == 200
    assert "Upload a .csv or .xlsx file." in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_a_finished_import_job_is_not_run_twice(team_manager, django_capture_on_commit_callbacks, login):
    from sales import tasks

    client = login(team_manager)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, "orders.csv", GOOD)
    job = ImportJob.objects.get()

    tasks.run_order_import(job.pk)  # a redelivered task

    assert JobRun.objects.filter(job="import_orders").count() == 1
