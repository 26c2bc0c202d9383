import datetime
import threading

import pytest
from django.db import connection, connections
from django.test import RequestFactory
from django.utils import timezone

from customers import panel_context, services
from customers.models import Contact, Customer, Interaction, JobRun, Task
from tests.factories import ContactFactory, CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db


def make(owner, name="Acme Trading", **data):
    return services.customer_create(actor=owner, data={"name": name, "owner": owner, "phone": "13800138000", **data})


def field_changes(customer):
    """(field, old, new) of the latest history record against the one before."""
    newer, older = customer.history.all()[:2]
    return {(c.field, c.old, c.new) for c in newer.diff_against(older).changes}


# Create


def test_create_records_the_creator_and_a_created_history_row(owner):
    customer = make(owner, email="  Buyer@Acme.EXAMPLE ")

    assert customer.created_by == owner
    assert customer.version == 1
    assert customer.email == "buyer@acme.example"
    record = customer.history.get()
    assert record.history_type == "+"
    assert record.history_user == owner


def test_create_sets_tags(owner):
    vip, north = TagFactory(name="vip"), TagFactory(name="north")

    customer = services.customer_create(actor=owner, data={"name": "Acme", "phone": "1"}, tags=[vip, north])

    assert set(customer.tags.all()) == {vip, north}


@pytest.mark.parametrize(
    ("phone", "digits"),
    [
        ("+86 138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("(021) 5555-0101", "02155550101"),
        ("", ""),
    ],
)
def test_phone_is_normalised_into_phone_digits(owner, phone, digits):
    assert make(owner, phone=phone).phone_digits == digits


def test_phone_digits_follow_an_edited_phone(owner):
    customer = make(owner, phone="138 0013 8000")

    services.customer_update(
        customer=customer, actor=owner, data={"phone": "+86 139-0000-1111"}, expected_version=customer.version
    )

    assert Customer.objects.get(pk=customer.pk).phone_digits == "13900001111"


# Update and optimistic locking


def test_update_saves_changes_bumps_the_version_and_records_actor_and_old_to_new(owner, team_manager):
    customer = make(owner, city="深圳")

    changed = services.customer_update(
        customer=customer, actor=team_manager, data={"city": "广州", "phone": "13900000000"}, expected_version=1
    )

    customer.refresh_from_db()
    assert sorted(changed) == ["city", "phone"]
    assert (customer.city, customer.phone, customer.version) == ("广州", "13900000000", 2)
    latest = customer.history.first()
    assert latest.history_type == "~"
    assert latest.history_user == team_manager
    assert field_changes(customer) == {("city", "深圳", "广州"), ("phone", "13800138000", "13900000000")}


def test_update_on_a_stale_version_raises_conflict_and_saves_nothing(owner, team_manager):
    customer = make(owner, city="深圳")
    services.customer_update(customer=customer, actor=owner, data={"phone": "13900000000"}, expected_version=1)
    history_rows = customer.history.count()

    with pytest.raises(services.ConflictError) as conflict:
        services.customer_update(customer=customer, actor=team_manager, data={"city": "广州"}, expected_version=1)

    assert conflict.value.current.version == 2
    assert conflict.value.current.phone == "13900000000"
    saved = Customer.objects.get(pk=customer.pk)
    assert (saved.city, saved.phone, saved.version) == ("深圳", "13900000000", 2)
    assert customer.history.count() == history_rows


def test_update_that_changes_nothing_records_no_history_and_keeps_the_version(owner):
    customer = make(owner, city="深圳")

    changed = services.customer_update(
        customer=customer, actor=owner, data={"city": " 深圳 ", "name": "Acme Trading"}, expected_version=1
    )

    assert changed == []
    assert Customer.objects.get(pk=customer.pk).version == 1
    assert customer.history.count() == 1
    # The version was not burnt: the same editor can still save with it.
    assert services.customer_update(customer=customer, actor=owner, data={"city": "广州"}, expected_version=1)


def test_changing_only_tags_is_a_change(owner):
    customer = make(owner)
    vip = TagFactory(name="vip")

    changed = services.customer_update(customer=customer, actor=owner, data={}, expected_version=1, tags=[vip])

    assert changed == ["tags"]
    assert list(customer.tags.all()) == [vip]
    assert Customer.objects.get(pk=customer.pk).version == 2


def test_an_edit_with_tags_records_one_history_row_naming_the_actor(owner, team_manager):
    customer = make(owner)
    vip = TagFactory(name="vip")

    services.customer_update(
        customer=customer, actor=team_manager, data={"city": "广州"}, expected_version=1, tags=[vip]
    )

    edits = list(customer.history.exclude(history_type="+"))
    assert [record.history_user for record in edits] == [team_manager]
    # The history panel shows both the field and the tag change in that one entry.
    entry = panel_context.history(RequestFactory().get("/"), customer)["entries"][0]
    assert {(str(c["field"]), c["old"], c["new"]) for c in entry["changes"]} == {
        ("city", "—", "广州"),
        ("tags", "—", "vip"),
    }


def test_creating_with_tags_records_one_created_row(owner):
    vip = TagFactory(name="vip")

    customer = services.customer_create(actor=owner, data={"name": "Acme", "phone": "1"}, tags=[vip])

    assert [(r.history_type, r.history_user) for r in customer.history.all()] == [("+", owner)]


def test_update_refreshes_the_callers_object(owner):
    customer = make(owner)

    services.customer_update(customer=customer, actor=owner, data={"city": "广州"}, expected_version=1)

    assert (customer.city, customer.version) == ("广州", 2)


def test_update_does_not_touch_grade_fields(owner):
    customer = make(owner)
    Customer.objects.filter(pk=customer.pk).update(tier=Customer.Tier.VIP, rfm_code="545")

    services.customer_update(
        customer=customer, actor=owner, data={"city": "广州", "tier": "small", "rfm_code": "111"}, expected_version=1
    )

    customer.refresh_from_db()
    assert (customer.tier, customer.rfm_code) == (Customer.Tier.VIP, "545")


def _race(customer_pk, version, editors):
    """Run customer_update for each (actor, data) in its own thread and connection, all at once."""
    barrier = threading.Barrier(len(editors))
    outcomes = []

    def edit(actor, data):
        try:
            customer = Customer.objects.get(pk=customer_pk)
            barrier.wait(timeout=10)
            services.customer_update(customer=customer, actor=actor, data=data, expected_version=version)
            outcomes.append("saved")
        except services.ConflictError:
            outcomes.append("conflict")
        except Exception as exc:  # noqa: BLE001 - reported in the assertion below
            outcomes.append(f"error: {exc!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=edit, args=editor) for editor in editors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_concurrent_edits_of_the_same_version_let_exactly_one_win(owner, team_manager):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs real row locks between connections; SQLite's shared in-memory test database "
            "raises 'table is locked' instead of waiting. Run with DATABASE_URL=postgres://…"
        )
    customer = make(owner, city="深圳", phone="13800000000")

    for round_number in range(1, 6):
        version = Customer.objects.get(pk=customer.pk).version
        outcomes = _race(
            customer.pk,
            version,
            [(owner, {"phone": f"1390000000{round_number}"}), (team_manager, {"city": f"城市{round_number}"})],
        )

        assert outcomes == ["conflict", "saved"], f"round {round_number}: {outcomes}"
        saved = Customer.objects.get(pk=customer.pk)
        assert saved.version == version + 1
        # The winner's edit is saved whole; the loser's not at all.
        assert (saved.phone == f"1390000000{round_number}") != (saved.city == f"城市{round_number}")


# Archive and restore


def test_archive_and_restore_record_their_reason_and_actor(owner, team_manager):
    customer = make(owner)

    services.customer_archive(customer=customer, actor=owner)
    archived = Customer.objects.get(pk=customer.pk)
    assert archived.archived
    assert archived.archived_at is not None
    assert archived.version == 2
    record = customer.history.first()
    assert (record.history_change_reason, record.history_user) == ("archived", owner)

    services.customer_restore(customer=customer, actor=team_manager)
    restored = Customer.objects.get(pk=customer.pk)
    assert not restored.archived
    assert restored.archived_at is None
    assert restored.version == 3
    record = customer.history.first()
    assert (record.history_change_reason, record.history_user) == ("restored", team_manager)


def test_archiving_twice_records_one_history_row(owner):
    customer = make(owner)

    services.customer_archive(customer=customer, actor=owner)
    services.customer_archive(customer=customer, actor=owner)
    services.customer_restore(customer=customer, actor=owner)
    services.customer_restore(customer=customer, actor=owner)

    assert [r.history_change_reason for r in customer.history.all()] == ["restored", "archived", None]


def test_archiving_makes_an_open_edit_form_stale(owner):
    customer = make(owner)
    services.customer_archive(customer=customer, actor=owner)

    with pytest.raises(services.ConflictError):
        services.customer_update(customer=customer, actor=owner, data={"city": "广州"}, expected_version=1)


# Marketing consent


def test_giving_consent_records_when_and_clearing_it_clears_the_channel(owner, time_machine):
    when = datetime.datetime(2025, 5, 4, 3, 2, tzinfo=datetime.UTC)
    time_machine.move_to(when, tick=False)
    customer = make(owner)
    assert customer.consent_at is None

    services.customer_update(
        customer=customer,
        actor=owner,
        data={"marketing_consent": True, "consent_channel": Customer.ConsentChannel.WECHAT},
        expected_version=1,
    )
    customer.refresh_from_db()
    assert customer.marketing_consent
    assert customer.consent_at == when
    assert customer.consent_channel == Customer.ConsentChannel.WECHAT

    services.customer_update(customer=customer, actor=owner, data={"marketing_consent": False}, expected_version=2)
    customer.refresh_from_db()
    assert not customer.marketing_consent
    assert customer.consent_at is None
    assert customer.consent_channel == ""


def test_consent_given_at_creation_is_timestamped(owner):
    customer = make(owner, marketing_consent=True, consent_channel=Customer.ConsentChannel.SMS)

    assert customer.consent_at is not None
    assert abs(customer.consent_at - timezone.now()) < datetime.timedelta(minutes=1)


def test_changing_only_the_channel_keeps_the_original_consent_time(owner):
    customer = make(owner, marketing_consent=True, consent_channel=Customer.ConsentChannel.SMS)
    first = customer.consent_at

    services.customer_update(
        customer=customer, actor=owner, data={"consent_channel": Customer.ConsentChannel.EMAIL}, expected_version=1
    )

    customer.refresh_from_db()
    assert customer.consent_at == first
    assert customer.consent_channel == Customer.ConsentChannel.EMAIL


# Contacts, interactions, tasks


def test_contact_save_normalises_and_keeps_one_primary_contact(owner):
    customer = make(owner)
    first = ContactFactory(customer=customer, name="Wang", is_primary=True)

    second = services.contact_save(
        contact=Contact(
            customer=customer, name="Li", phone="+86 139-1111-2222", email="LI@Acme.example", is_primary=True
        ),
        actor=owner,
    )

    assert (second.phone_digits, second.email) == ("13911112222", "li@acme.example")
    assert list(customer.contacts.filter(is_primary=True)) == [second]
    first.refresh_from_db()
    assert not first.is_primary


def test_interaction_log_records_who_and_defaults_to_now(owner):
    customer = make(owner)

    interaction = services.interaction_log(customer=customer, actor=owner, kind="visit", subject="Visited the plant")

    assert Interaction.objects.get() == interaction
    assert interaction.actor == owner
    assert abs(interaction.occurred_at - timezone.now()) < datetime.timedelta(minutes=1)


def test_task_create_and_set_done_and_reopen(owner, team_manager):
    customer = make(owner)
    due = timezone.localdate() + datetime.timedelta(days=3)

    task = services.task_create(
        owner=owner, title="Call back", due_date=due, customer=customer, created_by=team_manager
    )
    assert (task.owner, task.created_by, task.source, task.done) == (owner, team_manager, Task.Source.MANUAL, False)

    services.task_set_done(task=task, actor=owner)
    task.refresh_from_db()
    assert task.done and task.done_at is not None

    services.task_set_done(task=task, actor=owner, done=False)
    task.refresh_from_db()
    assert not task.done and task.done_at is None


def test_other_modules_create_tasks_with_their_own_source(owner):
    task = services.task_create(owner=owner, title="Win back", due_date=timezone.localdate(), source="churn_alert")

    assert Task.objects.get(pk=task.pk).source == "churn_alert"


def test_overdue_task_summary_counts(owner, teammate):
    today = datetime.date(2025, 6, 10)
    customer = CustomerFactory(owner=owner)
    for task_owner, due in [(owner, -2), (owner, -1), (teammate, -1), (owner, 0), (teammate, 3)]:
        services.task_create(
            owner=task_owner, title="t", due_date=today + datetime.timedelta(days=due), customer=customer
        )

    assert services.overdue_task_summary(today=today) == {"overdue": 3, "due_today": 1, "owners_with_overdue": 2}


# Job runs


def test_job_run_records_success_with_counts(time_machine):
    time_machine.move_to(datetime.datetime(2025, 1, 2, 3, 0, tzinfo=datetime.UTC), tick=True)

    with services.job_run("grading", as_of=datetime.date(2025, 1, 1)) as run:
        assert JobRun.objects.get().status == JobRun.Status.RUNNING
        run.count(graded=12)
        run.count(skipped=3)

    saved = JobRun.objects.get()
    assert saved.job == "grading"
    assert saved.as_of == datetime.date(2025, 1, 1)
    assert saved.status == JobRun.Status.SUCCEEDED
    assert saved.counts == {"graded": 12, "skipped": 3}
    assert saved.finished_at >= saved.started_at
    assert saved.duration is not None


def test_job_run_records_failure_with_the_message_and_reraises():
    with pytest.raises(ValueError, match="bad row 7"), services.job_run("import") as run:
        run.count(read=7)
        raise ValueError("bad row 7")

    saved = JobRun.objects.get()
    assert saved.status == JobRun.Status.FAILED
    assert saved.message == "ValueError: bad row 7"
    assert saved.finished_at is not None
    assert saved.counts == {"read": 7}
