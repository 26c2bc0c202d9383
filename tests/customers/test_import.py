"""Customer import from CSV and XLSX: command line, pipeline and the upload page."""

import csv
import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook, load_workbook

from customers import export, importing, panel_context, roles
from customers.models import Customer, ImportJob, JobRun, Tag
from tests.factories import CustomerFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = [
    "external_ref",
    "name",
    "kind",
    "phone",
    "email",
    "region",
    "city",
    "address",
    "industry",
    "category",
    "relationship_level",
    "source",
    "owner",
    "marketing_consent",
    "consent_channel",
    "birthday",
    "anniversary",
    "tags",
    "notes",
]


def write_csv(path, header, rows, *, bom=True):
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path, header, rows):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def run_command(path, *args):
    """Run import_customers; return (stdout, stderr). Raises CommandError when rows are rejected."""
    out, err = io.StringIO(), io.StringIO()
    call_command("import_customers", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def rejected(path, *args):
    """Run import_customers on a file that must be rejected; return its stderr lines."""
    err = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_customers", str(path), *args, stdout=io.StringIO(), stderr=err)
    assert raised.value.returncode == 1
    assert "nothing was imported" in str(raised.value).lower()
    return err.getvalue().splitlines()


def history_count():
    return Customer.history.count()


def full_row(**values):
    row = dict.fromkeys(HEADER, "")
    row.update(values)
    return [row[column] for column in HEADER]


# Command line: CSV and XLSX ---------------------------------------------------------------------


def test_csv_import_creates_customers_with_every_column(tmp_path):
    owner = UserFactory(username="bob", roles=[roles.SALES_REP])
    TagFactory(name="VIP")
    path = write_csv(
        tmp_path / "customers.csv",
        HEADER,
        [
            full_row(
                external_ref="ERP-1",
                name="华南贸易有限公司",
                kind="Organisation",
                phone="+86 138-0013-8000",
                email="Sales@HuaNan.CN",
                region="广东",
                city="深圳",
                address="科技园 1 号",
                industry="retail",
                category="Group buyer",
                relationship_level="PARTNER",
                source="Referral (word of mouth)",
                owner="bob",
                marketing_consent="是",
                consent_channel="WeChat",
                birthday="1990-05-01",
                anniversary="2015-10-08",
                tags="vip; 大客户, new",
                notes="Met at the Canton fair",
            ),
            full_row(name="Li Lei", kind="individual", phone="13900001111", marketing_consent="no"),
        ],
    )

    out, _err = run_command(path)

    assert "2 rows read: 2 created, 0 updated, 0 unchanged" in out
    acme = Customer.objects.get(external_ref="ERP-1")
    assert acme.name == "华南贸易有限公司"
    assert acme.kind == Customer.Kind.ORGANISATION
    assert acme.phone == "+86 138-0013-8000"
    assert acme.phone_digits == "13800138000"
    assert acme.email == "sales@huanan.cn"
    assert (acme.region, acme.city, acme.address) == ("广东", "深圳", "科技园 1 号")
    assert acme.industry == Customer.Industry.RETAIL
    assert acme.category == Customer.Category.GROUP_BUYER
    assert acme.relationship_level == Customer.RelationshipLevel.PARTNER
    assert acme.source == Customer.Source.REFERRAL
    assert acme.owner == owner
    assert acme.marketing_consent is True and acme.consent_at is not None
    assert acme.consent_channel == Customer.ConsentChannel.WECHAT
    assert acme.birthday == datetime.date(1990, 5, 1)
    assert acme.anniversary == datetime.date(2015, 10, 8)
    # An existing tag is reused whatever its case; missing tags are created.
    assert sorted(acme.tags.values_list("name", flat=True)) == ["VIP", "new", "大客户"]
    assert Tag.objects.count() == 3
    assert acme.notes == "Met at the Canton fair"
    assert acme.version == 1
    snapshot = acme.history.get()
    assert (snapshot.history_type, snapshot.history_change_reason) == ("+", "imported")

    li = Customer.objects.get(name="Li Lei")
    assert li.external_ref is None
    assert li.owner is None  # the command line has no actor to default to
    assert li.kind == Customer.Kind.INDIVIDUAL
    assert li.marketing_consent is False and li.consent_at is None
    assert li.category == Customer.Category.CONSUMER  # model default when the cell is empty


def test_xlsx_import_accepts_numbers_and_dates_as_excel_stores_them(tmp_path):
    path = write_xlsx(
        tmp_path / "customers.xlsx",
        ["External_Ref ", "NAME", "phone", "birthday", "marketing_consent", "category"],
        [
            [1001, "深圳市海风科技", 13800138000, datetime.datetime(1988, 2, 29), True, "consumer"],
            ["C-2", "Acme", "010-8888 1234", "2001-12-31", 0, "public_body"],
        ],
    )

    out, _err = run_command(path)

    assert "2 rows read: 2 created" in out
    first = Customer.objects.get(external_ref="1001")
    assert first.name == "深圳市海风科技"
    assert first.phone == "13800138000"
    assert first.birthday == datetime.date(1988, 2, 29)
    assert first.marketing_consent is True
    second = Customer.objects.get(external_ref="C-2")
    assert second.phone_digits == "01088881234"
    assert second.category == Customer.Category.PUBLIC_BODY


def test_csv_without_bom_and_with_semicolons_imports(tmp_path):
    path = tmp_path / "semicolons.csv"
    path.write_text("name;phone\nAcme;138 0000 0001\n", encoding="utf-8")

    run_command(path)

    assert Customer.objects.get().phone_digits == "13800000001"


def test_gb18030_csv_from_chinese_excel_is_read(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("name,city\n华南贸易,广州\n".encode("gb18030"))

    run_command(path)

    assert Customer.objects.get().city == "广州"


def test_reimporting_the_same_file_changes_nothing(tmp_path):
    UserFactory(username="bob", roles=[roles.SALES_REP])
    rows = [
        full_row(
            external_ref=f"R{i}",
            name=f"客户 {i}",
            phone=f"139{i:08d}",
            email=f"c{i}@example.com",
            category="channel",
            owner="bob",
            marketing_consent="yes",
            consent_channel="email",
            birthday="1990-01-02",
            tags="a;b",
            notes="line one\nline two",
        )
        for i in range(5)
    ]
    for path in (write_csv(tmp_path / "same.csv", HEADER, rows), write_xlsx(tmp_path / "same.xlsx", HEADER, rows)):
        Customer.objects.all().delete()
        run_command(path)
        before = {c.pk: (c.version, c.updated_at, c.consent_at) for c in Customer.objects.all()}
        history_before = history_count()

        out, _err = run_command(path)

        assert "5 rows read: 0 created, 0 updated, 5 unchanged" in out
        assert {c.pk: (c.version, c.updated_at, c.consent_at) for c in Customer.objects.all()} == before
        assert history_count() == history_before


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(tmp_path):
    CustomerFactory(name="Existing")
    path = write_csv(
        tmp_path / "bad.csv",
        ["external_ref", "name", "email", "category", "owner", "birthday", "marketing_consent"],
        [
            ["A1", "Good row", "good@example.com", "", "", "", ""],  # line 2
            ["A2", "", "", "", "", "", ""],  # line 3
            ["A3", "Multi\nline notes in the name", "", "", "", "", ""],  # lines 4-5
            ["A4", "Bad email", "foo@", "", "", "", ""],  # line 6
            ["A5", "Bad category", "", "xyz", "", "", ""],  # line 7
            ["A6", "Bad owner", "", "", "nobody", "", ""],  # line 8
            ["A7", "Bad date", "", "", "", "2024-13-01", ""],  # line 9
            ["A8", "Bad consent", "", "", "", "", "maybe"],  # line 10
            ["A1", "Same ref again", "", "", "", "", ""],  # line 11
            ["A9", "x" * 201, "", "", "", "", ""],  # line 12
        ],
    )
    count_before, history_before = Customer.objects.count(), history_count()

    errors = rejected(path)

    assert errors == [
        "line 3: name is empty",
        "line 6: email 'foo@' is not a valid email address",
        "line 7: unknown category 'xyz' (expected one of consumer, group_buyer, channel, internal, public_body)",
        "line 8: owner 'nobody' is not a user",
        "line 9: birthday '2024-13-01' is not a date (YYYY-MM-DD)",
        "line 10: marketing_consent 'maybe' is not yes or no (yes/no, true/false, 1/0, 是/否)",
        "line 11: duplicate of line 2 (both rows are the same customer)",
        f"line 12: name '{'x' * 39}…' is too long (201 characters, at most 200)",
    ]
    assert Customer.objects.count() == count_before
    assert history_count() == history_before
    assert Tag.objects.count() == 0
    run = JobRun.objects.get(job="import_customers")
    assert run.status == JobRun.Status.FAILED
    assert run.counts["rows"] == 10


def test_a_file_without_a_name_column_is_rejected(tmp_path):
    path = write_csv(tmp_path / "noname.csv", ["phone", "email"], [["1", "a@b.cn"]])

    assert rejected(path) == ["line 1: the header row has no 'name' column (the first row must name the columns)"]


def test_a_file_that_is_not_a_workbook_is_rejected(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_text("name\nAcme\n")

    assert rejected(path) == ["the file is not a valid Excel .xlsx workbook"]


def test_duplicates_are_found_across_chunks_and_progress_is_reported(tmp_path):
    rows = [[f"R{i}", f"Customer {i}"] for i in range(1200)] + [["R0", "Again"]]
    path = write_csv(tmp_path / "big.csv", ["external_ref", "name"], rows)
    events = []

    plan = importing.validate(list(importing.read_rows(path)), progress=lambda *event: events.append(event))

    assert plan.errors == [(1202, "duplicate of line 2 (both rows are the same customer)")]
    assert [processed for _stage, processed, _total in events] == [500, 1000, 1201]
    assert {(stage, total) for stage, _processed, total in events} == {(ImportJob.Status.VALIDATING, 1201)}
    assert Customer.objects.count() == 0


# Matching ---------------------------------------------------------------------------------------


def test_rows_match_on_external_ref_then_phone_then_email(tmp_path):
    by_ref = CustomerFactory(external_ref="ERP-7", name="Old name", phone="13800000007", email="ref@example.com")
    by_phone = CustomerFactory(name="Phone match", phone="+86 139 0000 0001", phone_digits="13900000001")
    by_email = CustomerFactory(name="Email match", phone="", phone_digits="", email="hello@example.com")
    path = write_csv(
        tmp_path / "update.csv",
        ["external_ref", "name", "phone", "email", "city"],
        [
            ["ERP-7", "New name", "13800000007", "ref@example.com", "杭州"],
            ["", "Phone match", "139-0000-0001", "", "杭州"],
            ["", "Email match", "", "HELLO@example.com", "杭州"],
            ["", "Brand new", "13700000000", "new@example.com", "杭州"],
        ],
    )
    count_before = Customer.objects.count()

    out, _err = run_command(path)

    assert "4 rows read: 1 created, 3 updated, 0 unchanged" in out
    assert Customer.objects.count() == count_before + 1
    for customer in (by_ref, by_phone, by_email):
        customer.refresh_from_db()
        assert customer.city == "杭州"
        assert customer.version == 2
        latest = customer.history.latest()
        assert (latest.history_type, latest.history_change_reason) == ("~", "imported")
    assert by_ref.name == "New name"
    assert by_phone.phone == "139-0000-0001"


def test_a_row_with_a_new_external_ref_claims_the_customer_with_its_phone_and_no_ref(tmp_path):
    manual = CustomerFactory(external_ref=None, phone="13800000001", phone_digits="13800000001")
    other = CustomerFactory(external_ref="OTHER", phone="13800000002", phone_digits="13800000002")
    path = write_csv(
        tmp_path / "refs.csv",
        ["external_ref", "name", "phone"],
        [["NEW-1", "Manual", "13800000001"], ["NEW-2", "Another company", "13800000002"]],
    )

    run_command(path)

    manual.refresh_from_db()
    assert manual.external_ref == "NEW-1"
    # A customer with another external_ref is another customer, whatever its phone.
    assert Customer.objects.get(external_ref="NEW-2").pk != other.pk


def test_a_phone_shared_by_several_customers_is_ambiguous(tmp_path):
    CustomerFactory(phone="13800000001", phone_digits="13800000001")
    CustomerFactory(phone="138 0000 0001", phone_digits="13800000001")
    path = write_csv(tmp_path / "ambiguous.csv", ["name", "phone"], [["Who", "13800000001"]])

    assert rejected(path) == [
        "line 2: phone '13800000001' matches 2 existing customers; add an external_ref to say which one"
    ]


def test_two_rows_for_the_same_existing_customer_make_the_second_bad(tmp_path):
    CustomerFactory(external_ref="C1", phone="13800000001", phone_digits="13800000001")
    path = write_csv(
        tmp_path / "twice.csv", ["external_ref", "name", "phone"], [["C1", "A", ""], ["", "B", "13800000001"]]
    )

    assert rejected(path) == ["line 3: duplicate of line 2 (both rows are the same customer)"]


def test_columns_absent_from_the_header_are_left_alone(tmp_path):
    customer = CustomerFactory(
        external_ref="K1", email="keep@example.com", city="上海", notes="keep me", marketing_consent=True
    )
    customer.tags.add(TagFactory(name="keep"))
    path = write_csv(tmp_path / "narrow.csv", ["external_ref", "name", "phone"], [["K1", "Renamed", "13811112222"]])

    run_command(path)

    customer.refresh_from_db()
    assert customer.name == "Renamed"
    assert customer.phone_digits == "13811112222"
    assert customer.email == "keep@example.com"
    assert customer.city == "上海"
    assert customer.notes == "keep me"
    assert customer.marketing_consent is True
    assert list(customer.tags.values_list("name", flat=True)) == ["keep"]


def test_an_empty_tags_cell_clears_tags_and_empty_owner_keeps_the_owner(tmp_path):
    customer = CustomerFactory(external_ref="T1")
    owner = customer.owner
    customer.tags.add(TagFactory(name="old"))
    path = write_csv(tmp_path / "tags.csv", ["external_ref", "name", "owner", "tags"], [["T1", customer.name, "", ""]])

    run_command(path)

    customer.refresh_from_db()
    assert customer.owner == owner
    assert customer.tags.count() == 0
    assert customer.version == 2


def test_actor_option_is_recorded_and_becomes_the_owner_of_new_customers(tmp_path):
    rep = UserFactory(username="rep", roles=[roles.SALES_REP])
    path = write_csv(tmp_path / "actor.csv", ["name"], [["Mine"]])

    run_command(path, "--actor", "rep")

    customer = Customer.objects.get()
    assert customer.owner == rep
    assert customer.created_by == rep
    assert customer.history.get().history_user == rep


def test_a_customer_changed_after_checking_stops_the_whole_import(tmp_path):
    customer = CustomerFactory(external_ref="V1", city="上海")
    path = write_csv(
        tmp_path / "race.csv", ["external_ref", "name", "city"], [["V1", customer.name, "杭州"], ["V2", "New", ""]]
    )
    plan = importing.validate(list(importing.read_rows(path)))
    Customer.objects.filter(pk=customer.pk).update(version=2, city="南京")  # someone saves the customer meanwhile

    with pytest.raises(importing.ImportConflictError) as raised:
        importing.apply(plan)

    assert raised.value.line == 2
    customer.refresh_from_db()
    assert customer.city == "南京"
    assert not Customer.objects.filter(external_ref="V2").exists()


def test_an_import_that_changes_tags_shows_the_tag_change_in_the_history_panel(tmp_path, rf, admin_user):
    customer = CustomerFactory(external_ref="T1", name="Acme")
    customer.tags.add(TagFactory(name="keep"), TagFactory(name="old"))
    path = write_csv(tmp_path / "tags.csv", ["external_ref", "name", "tags"], [["T1", "Acme", "keep; 新客户"]])

    run_command(path)

    request = rf.get(customer.get_absolute_url())
    request.user = admin_user
    latest = panel_context.history(request, customer)["entries"][0]
    assert (latest["type"], str(latest["reason"])) == ("~", "imported")
    assert latest["changes"] == [{"field": "tags", "old": "keep, old", "new": "keep, 新客户"}]


def test_imported_customers_are_found_by_search(tmp_path):
    CustomerFactory(external_ref="S1", name="Old name", phone="", email="")
    path = write_csv(
        tmp_path / "search.csv",
        ["external_ref", "name", "phone", "email"],
        [["S1", "华南贸易", "138-0000-1234", ""], ["S2", "ＡＣＭＥ Trading", "", "Info@Acme.cn"]],
    )

    run_command(path)

    def found(text):
        return list(Customer.objects.search(text).values_list("external_ref", flat=True))

    assert found("华南") == ["S1"]
    assert found("13800001234") == ["S1"]
    assert found("acme trading") == ["S2"]
    assert found("info@acme") == ["S2"]
    assert found("Old name") == []


# Round trip with the export ---------------------------------------------------------------------


TRICKY_NAMES = ['=HYPERLINK("http://evil")', "+86 dial", "-5% discount", "@SUM(A1)", "北京「海淀」科技", "Ünïcödé"]


def _import_tricky(tmp_path):
    path = write_csv(
        tmp_path / "tricky.csv",
        ["external_ref", "name", "city", "notes", "tags"],
        [[f"T{i}", name, "成都", f"{name}\n第二行", "重要"] for i, name in enumerate(TRICKY_NAMES)],
    )
    run_command(path)


def test_formula_like_and_chinese_text_is_stored_exactly(tmp_path):
    _import_tricky(tmp_path)

    assert sorted(Customer.objects.values_list("name", flat=True)) == sorted(TRICKY_NAMES)
    assert Customer.objects.get(external_ref="T0").notes == '=HYPERLINK("http://evil")\n第二行'


def test_exported_csv_imports_back_without_changes(tmp_path):
    _import_tricky(tmp_path)
    response = export.export_csv(Customer.objects.all())
    path = tmp_path / "export.csv"
    path.write_bytes(b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in response))

    out, err = run_command(path)

    assert f"{len(TRICKY_NAMES)} rows read: 0 created, 0 updated, {len(TRICKY_NAMES)} unchanged" in out
    assert "Ignored columns" in err  # tier, state … are the export's, not the import's
    assert sorted(Customer.objects.values_list("name", flat=True)) == sorted(TRICKY_NAMES)


def test_exported_xlsx_imports_back_without_changes(tmp_path):
    _import_tricky(tmp_path)
    path = tmp_path / "export.xlsx"
    path.write_bytes(export.export_xlsx(Customer.objects.all()).content)
    names_in_file = [row[1] for row in load_workbook(path).active.iter_rows(min_row=2, values_only=True)]
    assert '\'=HYPERLINK("http://evil")' in names_in_file  # the export neutralises formulas

    out, _err = run_command(path)

    assert f"0 created, 0 updated, {len(TRICKY_NAMES)} unchanged" in out


# Query count ------------------------------------------------------------------------------------


def _import_queries(tmp_path, count):
    rows = [
        [f"Q{count}-{i}", f"Customer {i}", f"137{count:03d}{i:05d}", f"q{count}.{i}@example.com", f"a;new{count}"]
        for i in range(count)
    ]
    path = write_csv(tmp_path / f"q{count}.csv", ["external_ref", "name", "phone", "email", "tags"], rows)
    with CaptureQueriesContext(connection) as queries:
        result = importing.import_customers(path)
    assert result.ok and result.counts["created"] == count
    return len(queries)


def test_import_queries_do_not_grow_with_the_number_of_rows(tmp_path):
    TagFactory(name="a")
    small = _import_queries(tmp_path, 30)
    large = _import_queries(tmp_path, 300)

    # Look-ups run once per chunk of 1,000 rows and inserts are batched: a query per row would add 270.
    assert large - small <= 2


# Upload page ------------------------------------------------------------------------------------


def _upload(client, name, content):
    return client.post(reverse("customers:import"), {"file": SimpleUploadedFile(name, content)})


def test_sales_manager_uploads_a_file_and_sees_the_counts(login, team_manager, django_capture_on_commit_callbacks):
    client = login(team_manager)
    assert client.get(reverse("customers:import")).status_code == 200
    content = "name,phone,tags\n华南贸易,13800000001,重点\nAcme,13800000002,\n".encode("utf-8-sig")

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, "客户.csv", content)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("customers:import_detail", args=[job.pk])
    assert job.status == ImportJob.Status.SUCCEEDED
    assert job.counts == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0}
    assert (job.processed_rows, job.total_rows, job.percent) == (2, 2, 100)
    # New customers without an owner column belong to the sales manager who imported them.
    assert set(Customer.objects.values_list("owner", flat=True)) == {team_manager.pk}
    assert Customer.history.filter(history_user=team_manager, history_change_reason="imported").count() == 2
    assert JobRun.objects.get(job="import_customers").status == JobRun.Status.SUCCEEDED

    page = client.get(response.url)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<dd class="col-sm-9" data-count="created">2</dd>' in html
    assert "every 1s" not in html  # finished: no more polling


def test_progress_panel_polls_until_the_job_is_finished(login, team_manager):
    job = ImportJob.objects.create(
        file="imports/x.csv", original_name="x.csv", created_by=team_manager, total_rows=2000, processed_rows=500
    )
    client = login(team_manager)

    panel = client.get(reverse("customers:import_status", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()

    assert 'hx-trigger="every 1s"' in panel
    assert reverse("customers:import_status", args=[job.pk]) in panel
    assert 'aria-valuenow="25"' in panel
    assert "500 of 2,000 rows" in panel


def test_upload_with_bad_rows_lists_them_and_imports_nothing(
    login, team_manager, outsider, django_capture_on_commit_callbacks
):
    CustomerFactory(external_ref="THEIRS", owner=outsider)
    client = login(team_manager)
    content = b"external_ref,name,email\nTHEIRS,Taken over,\nNEW,Fine,\nNEW2,Bad,foo@\n"

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, "bad.csv", content)

    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert job.errors == [
        {"line": 2, "reason": "a customer with external_ref 'THEIRS' exists and you may not change it"},
        {"line": 4, "reason": "email 'foo@' is not a valid email address"},
    ]
    assert Customer.objects.filter(external_ref__in=["NEW", "NEW2"]).count() == 0
    assert Customer.objects.get(external_ref="THEIRS").version == 1
    html = client.get(response.url).content.decode()
    assert "Nothing was imported." in html
    assert "2 of 3 rows have problems." in html
    assert "email &#x27;foo@&#x27; is not a valid email address" in html


def test_the_import_job_reports_in_the_uploaders_language(
    login, team_manager, settings, django_capture_on_commit_callbacks
):
    settings.LANGUAGE_CODE = "zh-hans"
    client = login(team_manager)
    for language in ("en", "zh-hans"):
        with django_capture_on_commit_callbacks() as callbacks:
            client.post(
                reverse("customers:import"),
                {"file": SimpleUploadedFile("bad.csv", b"name,email\nBad,foo@\n")},
                HTTP_ACCEPT_LANGUAGE=language,
            )
        # The worker serves no request: without the job's language it would write in LANGUAGE_CODE.
        translation.deactivate()
        for callback in callbacks:
            callback()

    english, chinese = ImportJob.objects.order_by("pk")
    assert english.language == "en"
    assert english.errors == [{"line": 2, "reason": "email 'foo@' is not a valid email address"}]
    assert english.message == "1 bad row in 1; nothing was imported."
    assert chinese.language == "zh-hans"
    assert chinese.errors[0]["reason"] != english.errors[0]["reason"]
    assert chinese.message != english.message


def test_user_without_import_permission_gets_403(login, outsider):
    client = login(outsider)

    assert client.get(reverse("customers:import")).status_code == 403
    assert _upload(client, "x.csv", b"name\nA\n").status_code == 403
    assert ImportJob.objects.count() == 0


def test_another_importer_gets_404_on_someone_elses_import(login, team_manager, admin_user):
    job = ImportJob.objects.create(file="imports/x.csv", original_name="x.csv", created_by=team_manager)
    other_manager = UserFactory(username="othermanager", roles=[roles.SALES_MANAGER])
    client = login(other_manager)

    assert client.get(reverse("customers:import_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("customers:import_status", args=[job.pk])).status_code == 404
    assert login(admin_user).get(reverse("customers:import_detail", args=[job.pk])).status_code == 200


def test_upload_form_rejects_other_file_types(login, team_manager):
    response = _upload(login(team_manager), "customers.txt", b"name\nA\n")

    assert response.status_code == 200
    assert "Upload a .csv or .xlsx file." in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_sales_manager_may_update_the_team_customers_and_assign_them_within_the_team(
    login, team_manager, owner, teammate, outsider, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(external_ref="OURS", owner=owner)
    client = login(team_manager)

    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, "ok.csv", b"external_ref,name,owner\nOURS,Renamed,teammate\n")
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, "bad.csv", b"external_ref,name,owner\nOURS,Renamed again,outsider\n")

    ok, bad = ImportJob.objects.order_by("pk")
    assert ok.status == ImportJob.Status.SUCCEEDED and ok.counts["updated"] == 1
    customer.refresh_from_db()
    assert (customer.name, customer.owner) == ("Renamed", teammate)
    assert bad.status == ImportJob.Status.FAILED
    assert bad.errors == [{"line": 2, "reason": "owner 'outsider' is not in your team"}]


def test_a_finished_import_job_is_not_run_twice(tmp_path, team_manager):
    job = ImportJob.objects.create(
        file="imports/gone.csv", original_name="gone.csv", created_by=team_manager, status=ImportJob.Status.SUCCEEDED
    )

    importing.run_import_job(job.pk)  # e.g. the broker delivers the task again

    assert not JobRun.objects.exists()
