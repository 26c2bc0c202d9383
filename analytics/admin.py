from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from . import rfm
from .models import ChurnAlert, ChurnModelRun, GradingRule, GradingRun, InventorySnapshot, RfmSegment

_THRESHOLD_FIELDS = {
    "recency_thresholds": True,  # whole days
    "frequency_thresholds": True,  # whole occasions
    "monetary_thresholds": False,
}


class GradingRuleForm(forms.ModelForm):
    """The rule's fields as the admin's fieldsets list them, checked together."""

    def clean(self):
        data = super().clean()
        shares = [data.get(name) for name in ("vip_share", "key_share", "ordinary_share")]
        if None not in shares and sum(shares) > 100:
            raise forms.ValidationError(
                _("The VIP, key and ordinary shares add up to %(total)s %%; they may add up to 100 %% at most.")
                % {"total": sum(shares)}
            )
        scores = data.get("rfm_quantiles")
        if data.get("rfm_method") == GradingRule.RfmMethod.THRESHOLDS and scores:
            for name, integers in _THRESHOLD_FIELDS.items():
                problem = rfm.thresholds_problem(data.get(name), scores, integers=integers)
                if problem:
                    self.add_error(
                        name,
                        _("Give %(count)s ascending numbers of at least 0%(whole)s, as a list like [30, 90, 180, 365].")
                        % {"count": scores - 1, "whole": gettext(", whole numbers") if integers else ""},
                    )
        high, medium = data.get("high_risk_p_alive"), data.get("medium_risk_p_alive")
        if high is not None and medium is not None and medium <= high:
            self.add_error(
                "medium_risk_p_alive",
                _("The medium-risk bar must be above the high-risk bar (%(high)s).") % {"high": high},
            )
        exploration, stability = data.get("exploration_days"), data.get("stability_days")
        if exploration is not None and stability is not None and stability <= exploration:
            self.add_error(
                "stability_days",
                _("Stability must start after exploration ends (%(days)s days).") % {"days": exploration},
            )
        return data


class RfmSegmentForm(forms.ModelForm):
    class Meta:
        model = RfmSegment
        fields = ["position", "key", "name", "r_min", "r_max", "f_min", "f_max", "m_min", "m_max"]

    def clean(self):
        data = super().clean()
        for dimension in ("r", "f", "m"):
            low, high = data.get(f"{dimension}_min"), data.get(f"{dimension}_max")
            if low is not None and high is not None:
                if low < 1:
                    self.add_error(f"{dimension}_min", _("Scores start at 1."))
                if high < low:
                    self.add_error(f"{dimension}_max", _("“To” must be at least “from”."))
        return data


class RfmSegmentInline(admin.TabularInline):
    model = RfmSegment
    form = RfmSegmentForm
    extra = 0
    ordering = ["position", "pk"]


@admin.register(GradingRule)
class GradingRuleAdmin(SimpleHistoryAdmin):
    form = GradingRuleForm
    inlines = [RfmSegmentInline]
    list_display = ["name", "active", "version", "rfm_method", "value_measure", "updated_at", "updated_by"]
    readonly_fields = ["version", "updated_at", "updated_by"]
    actions = ["make_active"]
    fieldsets = [
        (None, {"fields": ["name", "active", "version", "updated_at", "updated_by"]}),
        (
            _("RFM"),
            {
                "fields": [
                    "lookback_days",
                    "rfm_method",
                    "rfm_quantiles",
                    "recency_thresholds",
                    "frequency_thresholds",
                    "monetary_thresholds",
                ],
                "description": _(
                    "Quantiles: among the n buyers, a customer with b customers strictly worse scores 1 + ⌊N·b/n⌋ "
                    "(ties share a score). Fixed thresholds: N − 1 ascending values per dimension."
                ),
            },
        ),
        (
            _("Customer pyramid"),
            {
                "fields": ["value_measure", "vip_share", "key_share", "ordinary_share"],
                "description": _("Shares of customers, best first; the rest are small customers."),
            },
        ),
        (
            _("State and lifecycle"),
            {
                "fields": [
                    "loyal_min_occasions",
                    "loyal_max_recency_days",
                    "exploration_days",
                    "stability_days",
                    "decline_share",
                ]
            },
        ),
        (
            _("Churn"),
            {
                "fields": [
                    "churn_interval_multiple",
                    "churn_min_days",
                    "spend_period_days",
                    "spend_drop_share",
                    "low_satisfaction",
                    "high_risk_p_alive",
                    "medium_risk_p_alive",
                    "alert_min_value",
                ]
            },
        ),
        (_("Customer lifetime value"), {"fields": ["clv_horizon_months", "monthly_discount_rate"]}),
    ]

    def has_delete_permission(self, request, obj=None):
        # The active rule grades tonight; a rule that graded runs is their record.
        if obj is not None and (obj.active or obj.runs.exists()):
            return False
        return super().has_delete_permission(request, obj)

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        if obj.active:
            deactivated = GradingRule.objects.active().exclude(pk=obj.pk)
            names = [str(rule) for rule in deactivated]
            for rule in deactivated:
                rule.active = False
                rule.save(update_fields=["active"])
            if names:
                messages.info(request, gettext("No longer active: %(names)s.") % {"names": ", ".join(names)})
        if change and form.has_changed():
            obj.version += 1
        obj.updated_at, obj.updated_by = timezone.now(), request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # A changed segment table is a new version of the rule, even when no field of the rule changed.
        if change and not form.has_changed() and any(formset.has_changed() for formset in formsets):
            GradingRule.objects.filter(pk=form.instance.pk).update(version=form.instance.version + 1)

    @admin.action(description=_("Make the selected rule the active one"))
    @transaction.atomic
    def make_active(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, gettext("Select exactly one rule to make active."), messages.ERROR)
            return
        rule = queryset.get()
        GradingRule.objects.active().exclude(pk=rule.pk).update(active=False)
        rule.active, rule.updated_at, rule.updated_by = True, timezone.now(), request.user
        rule.save(update_fields=["active", "updated_at", "updated_by"])
        self.message_user(request, gettext("“%(rule)s” is now the active rule.") % {"rule": rule})


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the jobs write: shown, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(GradingRun)
class GradingRunAdmin(ReadOnlyAdmin):
    list_display = ["as_of", "status", "rule", "rule_version", "started_at", "finished_at", "duration"]
    list_filter = ["status"]
    date_hierarchy = "as_of"
    list_select_related = ["rule"]


@admin.register(ChurnModelRun)
class ChurnModelRunAdmin(ReadOnlyAdmin):
    list_display = ["as_of", "status", "bgnbd_converged", "bgnbd_n", "gg_converged", "gg_n", "finished_at"]
    list_filter = ["status", "bgnbd_converged", "gg_converged"]
    date_hierarchy = "as_of"


@admin.register(ChurnAlert)
class ChurnAlertAdmin(admin.ModelAdmin):
    list_display = ["customer", "status", "opened_on", "p_alive", "value_at_risk", "updated_by"]
    list_filter = ["status"]
    search_fields = ["customer__name"]
    raw_id_fields = ["customer", "task", "churn_run"]
    readonly_fields = ["churn_run", "opened_on", "reasons", "p_alive", "value_at_risk", "version"]
    list_select_related = ["customer", "updated_by"]


@admin.register(InventorySnapshot)
class InventorySnapshotAdmin(admin.ModelAdmin):
    list_display = ["product", "taken_on", "quantity", "value_at_cost"]
    list_filter = ["taken_on"]
    search_fields = ["product__sku", "product__name"]
    raw_id_fields = ["product"]
    list_select_related = ["product"]
