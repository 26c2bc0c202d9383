"""The monthly complaint report against a hand-made month whose figures are worked out below by hand."""

import csv
import datetime
import io
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from service import reporting
from service.models import Ticket
from service.reporting import Month
from service.services.reports import complaint_report
from tests.factories import CustomerFactory, UserFactory
from tests.sales.factories import ProductFactory
from tests.service.factories import TicketCategoryFactory, TicketFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=SHANGHAI)
H = datetime.timedelta(hours=1)
URL = reverse("service:complaint_report")


def at(day, hour=10, minute=0, month=2):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def complaint(created, *, response=None, response_due=None, resolved=None, resolution_due=None, **kwargs):
    """A complaint created at `created`; the other times are hours after it."""
    closed = kwargs.pop("closed", resolved is not None)
    return TicketFactory(
        type=Ticket.Type.COMPLAINT,
        status=Ticket.Status.CLOSED if closed else Ticket.Status.NEW,
        created_at=created,
        first_responded_at=created + response * H if response is not None else None,
        first_response_due=created + response_due * H if response_due is not None else None,
        resolved_at=created + resolved * H if resolved is not None else None,
        closed_at=created + resolved * H if resolved is not None else None,
        resolution_due=created + resolution_due * H if resolution_due is not None else None,
        **kwargs,
    )


@pytest.fixture
def february(db):
    """Four complaints in February 2026 (local time), two in January, and tickets the report must ignore."""
    quality = TicketCategoryFactory(name="Product quality")
    damaged = TicketCategoryFactory(name="Damaged", parent=quality)
    delivery = TicketCategoryFactory(name="Delivery")
    blender = ProductFactory(name="Blender")
    a, b, c, d = (CustomerFactory(name=name) for name in ("Alpha Ltd", "Beta Ltd", "Gamma Ltd", "Delta Ltd"))
    # February
    complaint(at(3), customer=a, category=damaged, product=blender, channel="phone", priority="high",
              response=2, response_due=4, resolved=30, resolution_due=24, root_cause="Packaging",
              customer_attitude="satisfied")  # fmt: skip
    complaint(at(10), customer=a, category=damaged, product=blender, channel="email", priority="normal",
              response=6, response_due=4, resolved=10, resolution_due=48, root_cause="Packaging")  # fmt: skip
    complaint(at(28, 23, 30), customer=b, category=delivery, channel="web", priority="urgent", is_repeat=True,
              response_due=1, resolution_due=24)  # fmt: skip
    complaint(at(15), customer=c, channel="phone", priority="normal", closed=True)
    # January, the month before
    complaint(at(31, 23, 50, month=1), customer=d, category=damaged, channel="phone", priority="high",
              response=1, response_due=4, resolved=20, resolution_due=24, root_cause="Packaging")  # fmt: skip
    complaint(at(5, month=1), customer=d, channel="phone", priority="normal", root_cause="Courier", closed=True)
    # Not complaints, or not in either month
    TicketFactory(type=Ticket.Type.INQUIRY, created_at=at(12), customer=a)
    complaint(at(1, 0, 10, month=3), customer=a)
    complaint(at(20, month=12).replace(year=2025), customer=a)


def figures(report, section):
    return {str(row["label"]): (row["current"], row["previous"]) for row in report[section]}


def test_counts_times_and_sla_match_the_hand_made_month(february):
    with time_machine.travel(NOW, tick=False):
        report = complaint_report(month=Month(2026, 2))
    summary = figures(report, "summary")
    assert summary["Complaints"] == (4, 2)
    assert summary["Still open"] == (1, 0)
    assert summary["Flagged as repeat complaints"] == (1, 0)
    # Alpha complained twice and Beta's complaint is flagged; in January Delta complained twice.
    assert summary["Repeat complainers"] == (2, 1)
    # First response: (2 h + 6 h) / 2 in February, 1 h in January; resolution (30 h + 10 h) / 2 and 20 h.
    assert summary["Average time to first response"] == (4.0, 1.0)
    assert summary["Average time to resolution"] == (20.0, 20.0)
    # Judged: answered, or due by now. February: #1 on time, #2 late, #3 never answered and past due.
    assert summary["First response within target"] == (33.3, 100.0)
    assert summary["Resolved within target"] == (33.3, 100.0)
    assert figures(report, "by_category") == {
        "Product quality › Damaged": (2, 1),
        "Delivery": (1, 0),
        "No category": (1, 1),
    }
    assert figures(report, "by_product") == {"Blender": (2, 0), "No product": (2, 2)}
    assert figures(report, "by_channel") == {"Phone": (2, 2), "Email": (1, 0), "Web": (1, 0)}
    assert figures(report, "by_priority") == {"Urgent": (1, 0), "High": (1, 1), "Normal": (2, 1)}
    assert [row["label"] for row in report["by_priority"]] == ["Urgent", "High", "Normal"]
    assert figures(report, "root_causes") == {"Packaging": (2, 1), "Courier": (0, 1)}
    assert figures(report, "attitudes")["Satisfied"] == (1, 0)
    assert [r["customer__name"] for r in report["repeat_complainers"]] == ["Alpha Ltd", "Beta Ltd"]
    complaints = next(row for row in report["summary"] if row["label"] == "Complaints")
    assert (complaints["delta"], complaints["percent"]) == (2, 100.0)


def test_the_month_boundaries_are_local_time(february):
    with time_machine.travel(NOW, tick=False):
        march = complaint_report(month=Month(2026, 3))
        january = complaint_report(month=Month(2026, 1))
    assert figures(march, "summary")["Complaints"] == (1, 4)
    assert figures(january, "summary")["Complaints"] == (2, 1)


def test_the_page_defaults_to_the_last_full_month(login, manager, february):
    with time_machine.travel(NOW, tick=False):
        response = login(manager).get(URL)
    assert response.status_code == 200
    assert response.context["month"] == Month(2026, 2)
    page = response.content.decode()
    assert "Complaint report 2026-02" in page and "Alpha Ltd" in page and 'id="report-charts"' in page
    assert "complaint_report.js" in page and "chart.umd.min.js" in page


def test_a_month_can_be_picked(login, manager, february):
    with time_machine.travel(NOW, tick=False):
        response = login(manager).get(URL, {"month": "2026-01"})
        future = login(manager).get(URL, {"month": "2026-09"})
    assert response.context["month"] == Month(2026, 1)
    assert future.context["month"] == Month(2026, 2)


@pytest.mark.parametrize("role", ["manager", "service supervisor", "admin"])
def test_managers_supervisors_and_admins_read_the_report(login, role, db):
    assert login(UserFactory(roles=[role])).get(URL).status_code == 200


@pytest.mark.parametrize("role", ["service agent", "sales rep", "sales manager", "marketing"])
def test_other_roles_get_404(login, role, db):
    assert login(UserFactory(roles=[role])).get(URL).status_code == 404
    assert login(UserFactory(roles=[role])).get(URL, {"format": "csv"}).status_code == 404


def test_outsider_gets_404(login, outsider):
    assert login(outsider).get(URL).status_code == 404


def test_csv_export_has_every_section_and_neutralises_formulas(login, manager, february):
    TicketFactory(type=Ticket.Type.COMPLAINT, created_at=at(20), root_cause='=HYPERLINK("http://x")')
    with time_machine.travel(NOW, tick=False):
        response = login(manager).get(URL, {"month": "2026-02", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="complaints-2026-02.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][2:4] == ["2026-02", "2026-01"]
    assert ["Summary", "Complaints", "5", "2", "3", "150.0"] in rows
    assert ["By channel", "Phone", "3", "2", "1", "50.0"] in rows
    assert ["Top root causes", '\'=HYPERLINK("http://x")', "1", "0", "1", ""] in rows
    assert any(row[:2] == ["Repeat complainers", "Alpha Ltd"] for row in rows)


def test_the_report_runs_a_fixed_number_of_queries(login, manager, february, django_assert_max_num_queries):
    client = login(manager)
    with time_machine.travel(NOW, tick=False):
        client.get(URL)  # session and user cached like every later request
        with django_assert_max_num_queries(16) as small:  # 8 for the report, the rest session, user, menu
            client.get(URL)
        categories = [TicketCategoryFactory() for _n in range(8)]
        products = [ProductFactory() for _n in range(8)]
        for n in range(60):
            complaint(at(1 + n % 27), customer=CustomerFactory(), category=categories[n % 8], product=products[n % 8],
                      root_cause=f"Cause {n % 12}", response=3, response_due=4, is_repeat=n % 5 == 0)  # fmt: skip
        with django_assert_max_num_queries(len(small.captured_queries)):
            response = client.get(URL)
    assert figures(response.context["report"], "summary")["Complaints"] == (64, 2)


def test_month_arithmetic():
    today = datetime.date(2026, 1, 15)
    assert reporting.last_full_month(today) == Month(2025, 12)
    assert reporting.parse_month("2025-07", today=today) == Month(2025, 7)
    assert reporting.parse_month("2026-01", today=today) == Month(2026, 1)
    for bad in ("2026-02", "2025-13", "x", "", None, "1999-05"):
        assert reporting.parse_month(bad, today=today) == Month(2025, 12)
    assert Month(2026, 1).shift(-1) == Month(2025, 12) and Month(2025, 12).shift(1) == Month(2026, 1)
    assert reporting.change(3, 0) == {"delta": 3, "percent": None}
    assert reporting.change(1, 4) == {"delta": -3, "percent": -75.0}
    assert reporting.percent(1, 3) == 33.3 and reporting.percent(0, 0) is None
