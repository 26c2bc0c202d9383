"""The command line of DESIGN.md: grade_customers, export_grades (and the jobs behind them)."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from analytics import tasks
from analytics.management.commands.export_grades import COLUMNS
from analytics.models import ChurnModelRun, CustomerGrade, GradingRun
from customers.models import JobRun
from tests.analytics.factories import default_rule
from tests.analytics.grading_data import buy
from tests.factories import CustomerFactory

AS_OF = datetime.date(2026, 6, 30)


def day(n):
    return AS_OF - datetime.timedelta(days=n)


@pytest.fixture
def book(db, owner):
    """Three buyers (one with a formula-like reference, one with none) and one customer who never bought."""
    default_rule()
    heavy = CustomerFactory(owner=owner, external_ref="C-001")
    light = CustomerFactory(owner=owner, external_ref="=HYPERLINK(1)")
    unreferenced = CustomerFactory(owner=owner, external_ref=None)
    idle = CustomerFactory(owner=owner, external_ref="C-004")
    for n in (300, 200, 100, 10):
        buy(heavy, day(n), 500, 300)
    buy(light, day(40), 80, 50)
    buy(unreferenced, day(400), 20, 5)
    buy(unreferenced, day(380), 30, 5)
    return {"heavy": heavy, "light": light, "unreferenced": unreferenced, "idle": idle}


def run_command(name, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_grade_customers_prints_a_summary_and_records_the_run(book):
    out, _err = run_command("grade_customers", "--as-of", AS_OF.isoformat())
    assert out.startswith("Graded 4 customers as of 2026-06-30 (3 with a purchase in the window)")
    # heavy: 4 occasions in a year, last 10 days ago → loyal; light: one → first-time;
    # unreferenced: silent 380 days, more than 3 × 20 and the 180-day floor → lost; idle: potential.
    assert "states first_time=1 lost=1 loyal=1 potential=1" in out
    assert GradingRun.objects.filter(as_of=AS_OF).count() == 1
    job = JobRun.objects.get(job="grade_customers")
    assert (job.status, job.as_of, job.counts) == ("succeeded", AS_OF, {"customers": 4, "buyers": 3})


@pytest.mark.parametrize(("value", "message"), [("2026-13-01", "not a date"), ("2999-01-01", "in the future")])
def test_a_bad_or_future_date_is_refused(db, value, message):
    with pytest.raises(CommandError, match=message):
        run_command("grade_customers", "--as-of", value)


def test_export_grades_writes_one_row_per_buyer_with_design_columns(book, tmp_path):
    target = tmp_path / "grades.csv"
    _out, err = run_command("export_grades", "--as-of", AS_OF.isoformat(), "-o", str(target))
    assert "computing the grades and churn models first" in err
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == COLUMNS == [
        "customer_ref", "recency", "frequency", "monetary", "r", "f", "m", "rfm_code", "segment", "tier",
        "state", "lifecycle_stage", "p_alive", "expected_purchases", "clv", "churn_risk",
    ]  # fmt: skip
    by_ref = {row["customer_ref"]: row for row in rows}
    # The idle customer never bought: no row. A formula-like reference is neutralised; no reference: the CRM id.
    assert set(by_ref) == {"C-001", "'=HYPERLINK(1)", str(book["unreferenced"].pk)}
    heavy = by_ref["C-001"]
    # Three buyers: recency 10 / 40 / 380 days, occasions 4 / 1 / 2, amounts 2000 / 80 / 50.
    assert (heavy["recency"], heavy["frequency"], Decimal(heavy["monetary"])) == ("10", "4", Decimal("2000.00"))
    # b (strictly worse) = 2 on every dimension: 1 + ⌊5·2/3⌋ = 4.
    assert (heavy["r"], heavy["f"], heavy["m"], heavy["rfm_code"]) == ("4", "4", "4", "444")
    assert (heavy["tier"], heavy["state"]) == ("vip", "loyal")
    assert 0 < float(heavy["p_alive"]) <= 1
    # The churn columns are the run's: three buyers are too few for every model figure, so some may be blank.
    stored = CustomerGrade.objects.get(run__as_of=AS_OF, customer=book["heavy"])
    assert float(heavy["p_alive"]) == pytest.approx(stored.p_alive, abs=1e-6)
    assert heavy["expected_purchases"] == (
        "" if stored.expected_purchases is None else f"{stored.expected_purchases:.6f}"
    )
    assert heavy["clv"] == ("" if stored.clv is None else str(stored.clv))
    assert heavy["churn_risk"] == stored.churn_risk in {"low", "medium", "high"}


def test_export_grades_reuses_a_computed_date_and_writes_to_stdout(book):
    call_command("detect_churn", "--as-of", AS_OF.isoformat(), stdout=io.StringIO())
    out, err = run_command("export_grades", "--as-of", AS_OF.isoformat())
    assert err == ""
    assert ChurnModelRun.objects.count() == 1
    assert out.splitlines()[0] == ",".join(COLUMNS)
    assert len(out.splitlines()) == 4


def test_the_nightly_tasks_record_their_runs(book):
    today = timezone.localdate().isoformat()
    tasks.grade_customers.delay(today)
    tasks.detect_churn.delay(today)
    runs = {job.job: job for job in JobRun.objects.all()}
    assert runs["grade_customers"].status == runs["detect_churn"].status == "succeeded"
    assert runs["detect_churn"].counts["scored"] == 3
    assert "latest" not in runs["detect_churn"].counts
