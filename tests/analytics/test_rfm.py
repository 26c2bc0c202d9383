"""The pure RFM module: scores, segment table, pyramid cuts and threshold checks (no database)."""

import sqlite3

import pytest

from analytics import rfm

TABLE = [
    rfm.SegmentRow("champions", (4, 5), (4, 5), (1, 9)),
    rfm.SegmentRow("loyal", (3, 5), (3, 5), (1, 9)),
    rfm.SegmentRow("big_spenders", (1, 5), (1, 5), (5, 5)),
]


def test_quantile_score_is_one_plus_floor_of_n_b_over_n():
    # n = 7 buyers, N = 5: b = 0..6 → 1, 1, 2, 3, 3, 4, 5.
    assert [rfm.quantile_score(b, 7, 5) for b in range(7)] == [1, 1, 2, 3, 3, 4, 5]
    with pytest.raises(ValueError):
        rfm.quantile_score(7, 7, 5)


def test_threshold_scores():
    assert [rfm.recency_threshold_score(d, [30, 90, 180, 365]) for d in (0, 30, 31, 365, 366)] == [5, 5, 4, 2, 1]
    assert [rfm.amount_threshold_score(v, [2, 3, 5, 10]) for v in (1, 2, 4, 10, 99)] == [1, 2, 3, 5, 5]


def test_first_matching_row_names_the_segment():
    assert rfm.segment_for(5, 5, 5, TABLE, "other") == "champions"
    assert rfm.segment_for(3, 3, 5, TABLE, "other") == "loyal"
    assert rfm.segment_for(1, 1, 5, TABLE, "other") == "big_spenders"
    assert rfm.segment_for(1, 1, 1, TABLE, "other") == "other"


def test_segment_sql_agrees_with_the_table_for_every_code():
    sql, params = rfm.segment_case_sql(TABLE, "other", 5)
    database = sqlite3.connect(":memory:")
    database.execute("CREATE TABLE scores (code INTEGER)")
    codes = [100 * r + 10 * f + m for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    database.executemany("INSERT INTO scores VALUES (?)", [(c,) for c in codes])
    named = sql % {name: f":{name}" for name in params}
    got = dict(database.execute(f"SELECT code, {named} FROM scores", params).fetchall())  # noqa: S608
    assert got == {c: rfm.segment_for(c // 100, c // 10 % 10, c % 10, TABLE, "other") for c in codes}


def test_tiers_cut_by_the_share_of_customers_ranked_above():
    limits = rfm.tier_limits([1, 4, 15])
    assert limits == [100, 500, 2000]
    tiers = [rfm.tier_for(b, 100, limits) for b in range(100)]
    assert tiers == ["vip"] + ["key"] * 4 + ["ordinary"] * 15 + ["small"] * 80


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ([30, 90, 180, 365], None),
        ([30, 90, 180], "needs 4 values"),
        ([90, 30, 180, 365], "values must increase"),
        ([30, 30, 180, 365], "values must increase"),
        ([30, 90.5, 180, 365], "values must be whole numbers"),
        ([-1, 90, 180, 365], "values must be numbers of at least 0"),
        ("30, 90", "not a list"),
    ],
)
def test_thresholds_problem(values, problem):
    assert rfm.thresholds_problem(values, 5, integers=True) == problem
