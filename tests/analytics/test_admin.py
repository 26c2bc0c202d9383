"""Grading rules in Django admin: validated with clear messages, versioned, one active at a time."""

import pytest
from django.urls import reverse

from analytics.models import GradingRule
from tests.analytics.factories import default_rule


def rule_form(rule, **changes) -> dict:
    """The change form's POST data for `rule` as it is, with `changes`."""
    data = {
        "name": rule.name,
        "active": "on" if rule.active else "",
        "lookback_days": rule.lookback_days or "",
        "rfm_method": rule.rfm_method,
        "rfm_quantiles": rule.rfm_quantiles,
        "recency_thresholds": "[]",
        "frequency_thresholds": "[]",
        "monetary_thresholds": "[]",
        "value_measure": rule.value_measure,
        "vip_share": rule.vip_share,
        "key_share": rule.key_share,
        "ordinary_share": rule.ordinary_share,
        "loyal_min_occasions": rule.loyal_min_occasions,
        "loyal_max_recency_days": rule.loyal_max_recency_days,
        "exploration_days": rule.exploration_days,
        "stability_days": rule.stability_days,
        "decline_share": rule.decline_share,
        "churn_interval_multiple": rule.churn_interval_multiple,
        "churn_min_days": rule.churn_min_days,
        "spend_period_days": rule.spend_period_days,
        "spend_drop_share": rule.spend_drop_share,
        "low_satisfaction": rule.low_satisfaction,
        "high_risk_p_alive": rule.high_risk_p_alive,
        "medium_risk_p_alive": rule.medium_risk_p_alive,
        "alert_min_value": rule.alert_min_value,
        "clv_horizon_months": rule.clv_horizon_months,
        "monthly_discount_rate": rule.monthly_discount_rate,
    }
    segments = list(rule.segments.all())
    prefix = "segments"
    data |= {
        f"{prefix}-TOTAL_FORMS": len(segments),
        f"{prefix}-INITIAL_FORMS": len(segments),
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }
    for i, s in enumerate(segments):
        for name in ("position", "key", "name", "r_min", "r_max", "f_min", "f_max", "m_min", "m_max"):
            data[f"{prefix}-{i}-{name}"] = getattr(s, name)
        data[f"{prefix}-{i}-id"] = s.pk
        data[f"{prefix}-{i}-rule"] = rule.pk
    return data | changes


@pytest.fixture
def rule(db):
    return default_rule()


@pytest.fixture
def admin_client(login, admin_user):
    """The CRM's admin role (not a superuser): its group grants the analytics permissions."""
    return login(admin_user)


def change_url(rule):
    return reverse("admin:analytics_gradingrule_change", args=[rule.pk])


def test_shares_over_100_percent_are_refused_with_a_message(admin_client, rule):
    response = admin_client.post(change_url(rule), rule_form(rule, vip_share="10", key_share="40", ordinary_share="60"))
    assert response.status_code == 200
    assert "add up to 110" in response.content.decode()
    rule.refresh_from_db()
    assert rule.key_share == 4


def test_thresholds_must_be_n_minus_one_ascending_numbers(admin_client, rule):
    data = rule_form(
        rule,
        rfm_method="thresholds",
        recency_thresholds="[90, 30, 180, 365]",
        frequency_thresholds="[2, 3, 5]",
        monetary_thresholds="[1000, 5000, 20000, 100000]",
    )
    response = admin_client.post(change_url(rule), data)
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"recency_thresholds", "frequency_thresholds"}
    assert "Give 4 ascending numbers" in errors["recency_thresholds"][0]
    rule.refresh_from_db()
    assert rule.rfm_method == "quantiles"


def test_risk_bars_and_lifecycle_thresholds_must_be_ordered(admin_client, rule):
    data = rule_form(rule, high_risk_p_alive="0.6", medium_risk_p_alive="0.5", exploration_days=800)
    errors = admin_client.post(change_url(rule), data).context["adminform"].form.errors
    assert "medium-risk bar must be above" in errors["medium_risk_p_alive"][0]
    assert "Stability must start after exploration" in errors["stability_days"][0]


def test_segment_ranges_are_checked(admin_client, rule):
    response = admin_client.post(change_url(rule), rule_form(rule, **{"segments-0-r_min": 5, "segments-0-r_max": 4}))
    assert response.status_code == 200
    assert "“To” must be at least “from”." in response.content.decode()


def test_a_saved_change_is_a_new_version_kept_in_history(admin_client, rule, admin_user):
    recorded = rule.history.count()
    response = admin_client.post(change_url(rule), rule_form(rule, churn_min_days=120))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.version, rule.churn_min_days) == (2, 120)
    assert rule.history.count() == recorded + 1
    latest = rule.history.first()
    assert (latest.churn_min_days, latest.history_user) == (120, admin_user)
    # Changing only the segment table is a new version too.
    admin_client.post(change_url(rule), rule_form(rule, **{"segments-0-name": "Stars"}))
    rule.refresh_from_db()
    assert rule.version == 3
    assert rule.segments.get(key="champions").name == "Stars"


def test_activating_a_rule_deactivates_the_other(admin_client, rule):
    other = GradingRule.objects.create(name="Strict", active=False)
    response = admin_client.post(
        reverse("admin:analytics_gradingrule_changelist"),
        {"action": "make_active", "_selected_action": [other.pk]},
    )
    assert response.status_code == 302
    assert list(GradingRule.objects.active()) == [other]
    rule.refresh_from_db()
    assert rule.active is False


def test_the_active_rule_cannot_be_deleted(admin_client, rule):
    response = admin_client.get(reverse("admin:analytics_gradingrule_delete", args=[rule.pk]))
    assert response.status_code == 403
