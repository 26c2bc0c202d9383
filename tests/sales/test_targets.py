"""Monthly sales targets: the rep × month grid that sales managers edit."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from customers import roles
from sales.models import SalesTarget
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

TARGETS = reverse("sales:target_list")


def grid_post(rows, year=2026):
    """Formset data for rows [(rep, {month: amount})]."""
    data = {"form-TOTAL_FORMS": str(len(rows)), "form-INITIAL_FORMS": str(len(rows))}
    for i, (rep, months) in enumerate(rows):
        data[f"form-{i}-rep"] = str(rep.pk)
        for month in range(1, 13):
            data[f"form-{i}-m{month}"] = months.get(month, "")
    return data


def test_sales_manager_sets_targets_for_their_reps(login, team_manager, owner, teammate):
    SalesTarget.objects.create(rep=owner, month=datetime.date(2026, 2, 1), amount=Decimal("100"))
    SalesTarget.objects.create(rep=owner, month=datetime.date(2026, 3, 1), amount=Decimal("300"))
    client = login(team_manager)
    page = client.get(TARGETS, {"year": 2026})
    assert [row["rep"] for row in page.context["grid"]] == [owner, teammate]

    response = client.post(
        f"{TARGETS}?year=2026",
        grid_post([(owner, {1: "5000", 2: "100", 3: ""}), (teammate, {6: "1234.50"})]),
    )

    assert response.status_code == 302
    saved = {(t.rep.username, t.month.month): t.amount for t in SalesTarget.objects.select_related("rep")}
    assert saved == {("owner", 1): Decimal("5000"), ("owner", 2): Decimal("100"), ("teammate", 6): Decimal("1234.50")}
    assert SalesTarget.objects.get(rep=owner, month=datetime.date(2026, 1, 1)).set_by == team_manager


def test_sales_manager_cannot_set_targets_outside_their_teams(login, team_manager, owner, outsider):
    response = login(team_manager).post(f"{TARGETS}?year=2026", grid_post([(outsider, {1: "999"})]))
    assert response.status_code == 404
    assert not SalesTarget.objects.exists()


def test_negative_targets_are_refused(login, team_manager, owner):
    response = login(team_manager).post(f"{TARGETS}?year=2026", grid_post([(owner, {1: "-5"})]))
    assert response.status_code == 200
    assert not SalesTarget.objects.exists()


def test_rep_reads_only_their_own_targets_and_cannot_post(login, owner, teammate):
    SalesTarget.objects.create(rep=owner, month=datetime.date(2026, 4, 1), amount=Decimal("4200"))
    SalesTarget.objects.create(rep=teammate, month=datetime.date(2026, 4, 1), amount=Decimal("7700"))
    client = login(owner)
    page = client.get(TARGETS, {"year": 2026})
    assert [row["rep"] for row in page.context["grid"]] == [owner]
    content = page.content.decode()
    assert "4,200.00" in content and "7,700.00" not in content
    assert 'type="number"' not in content
    assert client.post(f"{TARGETS}?year=2026", grid_post([(owner, {1: "1"})])).status_code == 404


def test_admin_sets_targets_for_any_rep(login, admin_user, outsider):
    login(admin_user).post(f"{TARGETS}?year=2027", grid_post([(outsider, {12: "10"})]))
    assert SalesTarget.objects.get().month == datetime.date(2027, 12, 1)


def test_target_grid_runs_a_constant_number_of_queries(login, team_manager, django_assert_max_num_queries):
    team = TeamFactory(name="Big", manager=team_manager)
    for i in range(20):
        rep = UserFactory(username=f"rep{i:02d}", roles=[roles.SALES_REP])
        team.members.add(rep)
        SalesTarget.objects.create(rep=rep, month=datetime.date(2026, 1 + i % 12, 1), amount=Decimal("10"))
    client = login(team_manager)
    with django_assert_max_num_queries(10):
        response = client.get(TARGETS, {"year": 2026})
    assert len(response.context["grid"]) == 20
