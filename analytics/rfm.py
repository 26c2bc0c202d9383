"""RFM scoring, segment matching and pyramid cuts: the definitions of DESIGN.md as plain Python.

No database here. The grading job computes the same things in SQL for every customer at once
(`analytics/services/grading.py`); these functions state the rules, validate what admins type,
and build the few SQL expressions that come from the rule's own tables.

Quantile scores, ties kept together, in exact integer arithmetic: among the n customers with at
least one purchase, a customer with b customers strictly worse on a dimension scores
1 + ⌊N·b / n⌋. Equal values get equal scores and the worst value always scores 1.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal


def quantile_score(worse: int, n: int, scores: int) -> int:
    """1 + ⌊N·b / n⌋ for b customers strictly worse out of n (scores = N)."""
    if not 0 <= worse < n:
        raise ValueError("worse must be between 0 and n - 1")
    return 1 + scores * worse // n


def recency_threshold_score(days: int, thresholds: Sequence[int]) -> int:
    """Fixed thresholds, ascending day counts: within the first scores N, past the last scores 1."""
    return len(thresholds) + 1 - sum(1 for limit in thresholds if days > limit)


def amount_threshold_score(value, thresholds: Sequence) -> int:
    """Fixed thresholds, ascending: below the first scores 1, at or above the last scores N."""
    return 1 + sum(1 for limit in thresholds if value >= limit)


def thresholds_problem(values, scores: int, *, integers: bool) -> str | None:
    """Why a list of thresholds is unusable for N = `scores` (None when it is fine)."""
    if not isinstance(values, list):
        return "not a list"
    if len(values) != scores - 1:
        return f"needs {scores - 1} values"
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return "values must be numbers of at least 0"
        if integers and value != int(value):
            return "values must be whole numbers"
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        return "values must increase"
    return None


@dataclass(frozen=True)
class SegmentRow:
    """One row of the segment-name table: score ranges, inclusive."""

    key: str
    r: tuple[int, int]
    f: tuple[int, int]
    m: tuple[int, int]

    def matches(self, r: int, f: int, m: int) -> bool:
        return self.r[0] <= r <= self.r[1] and self.f[0] <= f <= self.f[1] and self.m[0] <= m <= self.m[1]


def segment_for(r: int, f: int, m: int, table: Sequence[SegmentRow], unmatched: str) -> str:
    """The key of the first row whose ranges hold the scores, else `unmatched`."""
    return next((row.key for row in table if row.matches(r, f, m)), unmatched)


def segment_case_sql(table: Sequence[SegmentRow], unmatched: str, scores: int) -> tuple[str, dict]:
    """`segment_for` as a SQL CASE over the column `code` (= 100·r + 10·f + m), with its named parameters.

    Every score combination is matched here once, so the database tests one short list of codes
    per segment instead of six comparisons per row of the table."""
    codes: dict[str, list[int]] = {}
    for r, f, m in itertools.product(range(1, scores + 1), repeat=3):
        codes.setdefault(segment_for(r, f, m, table, unmatched), []).append(100 * r + 10 * f + m)
    whens, params = [], {"seg_unmatched": unmatched}
    for i, (key, members) in enumerate(codes.items()):
        if key != unmatched:
            params[f"seg{i}"] = key
            # Whole numbers computed above, not input: safe to write into the statement.
            whens.append(f"WHEN code IN ({', '.join(map(str, members))}) THEN %(seg{i})s")
    if not whens:
        return "%(seg_unmatched)s", params
    return f"CASE {' '.join(whens)} ELSE %(seg_unmatched)s END", params


TIERS = ("vip", "key", "ordinary", "small")


def tier_limits(shares_percent: Sequence[Decimal]) -> list[int]:
    """Cumulative cuts in hundredths of a percent, from the per-tier shares in percent (VIP, key, ordinary)."""
    limits, total = [], Decimal(0)
    for share in shares_percent:
        total += Decimal(share)
        limits.append(int(total * 100))
    return limits


def tier_for(better: int, n: int, limits: Sequence[int]) -> str:
    """The tier of a customer with `better` customers of strictly higher value out of n.

    The cumulative share of customers ranked above is b / n: under the VIP share is VIP, under
    VIP + key is key, and so on (ties share a tier)."""
    for tier, limit in zip(TIERS, limits, strict=False):
        if better * 10_000 < n * limit:
            return tier
    return TIERS[-1]
