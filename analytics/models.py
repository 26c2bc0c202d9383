"""Analytics: the grading rule, grading and churn runs, the per-customer grade history, churn
alerts, state transitions and inventory snapshots.

The analytical definitions are in DESIGN.md ("Analytical definitions"); the computations are in
`analytics/services/` (SQL, set-based) and the pure modules `rfm.py`, `bgnbd.py`, `gammagamma.py`.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from customers import roles
from customers.models import Customer

PERCENT = {"max_digits": 5, "decimal_places": 2, "validators": [MinValueValidator(0), MaxValueValidator(100)]}
SHARE = {"max_digits": 4, "decimal_places": 3, "validators": [MinValueValidator(0), MaxValueValidator(1)]}
MONEY = {"max_digits": 14, "decimal_places": 2}


class GradingRuleQuerySet(models.QuerySet):
    def active(self):
        """The rule in force (at most one)."""
        return self.filter(active=True)


class GradingRule(models.Model):
    """How customers are graded; edited by admins. Exactly one rule is active at a time."""

    class RfmMethod(models.TextChoices):
        QUANTILES = "quantiles", _("Quantiles (ties kept together)")
        THRESHOLDS = "thresholds", _("Fixed thresholds")

    class ValueMeasure(models.TextChoices):
        GROSS_PROFIT = "gross_profit", _("Gross profit")
        REVENUE = "revenue", _("Revenue")
        CLV = "clv", _("Customer lifetime value")

    name = models.CharField(_("name"), max_length=100)
    active = models.BooleanField(_("active"), default=False)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    # RFM
    lookback_days = models.PositiveIntegerField(
        _("look-back window (days)"),
        null=True,
        blank=True,
        help_text=_("Only purchases in this many days before the as-of date count for RFM and value. Empty: all."),
    )
    rfm_method = models.CharField(
        _("RFM method"), max_length=16, choices=RfmMethod.choices, default=RfmMethod.QUANTILES
    )
    rfm_quantiles = models.PositiveSmallIntegerField(
        _("number of scores (N)"), default=5, validators=[MinValueValidator(2), MaxValueValidator(9)]
    )
    recency_thresholds = models.JSONField(
        _("recency thresholds (days)"),
        default=list,
        blank=True,
        help_text=_("N−1 day counts, ascending, e.g. [30, 90, 180, 365]: at most 30 days scores N, over 365 scores 1."),
    )
    frequency_thresholds = models.JSONField(
        _("frequency thresholds (occasions)"),
        default=list,
        blank=True,
        help_text=_("N−1 counts, ascending, e.g. [2, 3, 5, 10]: fewer than 2 scores 1, 10 or more scores N."),
    )
    monetary_thresholds = models.JSONField(
        _("monetary thresholds (amount)"),
        default=list,
        blank=True,
        help_text=_("N−1 amounts, ascending, e.g. [1000, 5000, 20000, 100000]: under 1000 scores 1."),
    )

    # Pyramid
    value_measure = models.CharField(
        _("pyramid value measure"), max_length=16, choices=ValueMeasure.choices, default=ValueMeasure.GROSS_PROFIT
    )
    vip_share = models.DecimalField(_("VIP share (%)"), default=Decimal("1"), **PERCENT)
    key_share = models.DecimalField(_("key share (%)"), default=Decimal("4"), **PERCENT)
    ordinary_share = models.DecimalField(
        _("ordinary share (%)"), default=Decimal("15"), help_text=_("The rest are small customers."), **PERCENT
    )

    # State
    loyal_min_occasions = models.PositiveIntegerField(
        _("loyalty: occasions in the last 12 months"), default=3, validators=[MinValueValidator(1)]
    )
    loyal_max_recency_days = models.PositiveIntegerField(_("loyalty: at most days since the last purchase"), default=90)

    # Lifecycle
    exploration_days = models.PositiveIntegerField(
        _("exploration: tenure under (days)"), default=180, help_text=_("Days since the first purchase.")
    )
    stability_days = models.PositiveIntegerField(_("stability: tenure from (days)"), default=730)
    decline_share = models.DecimalField(
        _("decline: spend falling by more than"),
        default=Decimal("0.5"),
        help_text=_("Share (0–1) by which spend in the last period fell against the period before."),
        **SHARE,
    )

    # Churn rules
    churn_interval_multiple = models.DecimalField(
        _("churn: times the own mean interval (k)"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("3"),
        validators=[MinValueValidator(1)],
    )
    churn_min_days = models.PositiveIntegerField(
        _("churn: at least days without purchase"),
        default=180,
        help_text=_("Floor of the silence rule; also the rule for customers with one purchase occasion."),
    )
    spend_period_days = models.PositiveIntegerField(
        _("spend comparison period (days)"), default=180, validators=[MinValueValidator(7)]
    )
    spend_drop_share = models.DecimalField(
        _("churn: spend falling by more than"),
        default=Decimal("0.5"),
        help_text=_("Share (0–1) by which spend in the last period fell against the period before."),
        **SHARE,
    )
    low_satisfaction = models.PositiveSmallIntegerField(
        _("churn: low overall satisfaction (at most)"),
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("An open complaint with a latest survey at or below this score is a churn signal."),
    )

    # Churn risk and alerts
    high_risk_p_alive = models.DecimalField(
        _("high risk: P(alive) below"),
        default=Decimal("0.3"),
        **SHARE,
    )
    medium_risk_p_alive = models.DecimalField(_("medium risk: P(alive) below"), default=Decimal("0.6"), **SHARE)
    alert_min_value = models.DecimalField(
        _("alert: value at least"),
        default=Decimal("1000"),
        help_text=_("A high-risk customer whose pyramid value is at least this opens a churn alert."),
        **MONEY,
    )

    # CLV
    clv_horizon_months = models.PositiveSmallIntegerField(
        _("CLV horizon (months)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    monthly_discount_rate = models.DecimalField(
        _("monthly discount rate"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.01"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )

    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    history = HistoricalRecords()
    objects = GradingRuleQuerySet.as_manager()

    class Meta:
        ordering = ["-active", "name"]
        verbose_name = _("grading rule")
        verbose_name_plural = _("grading rules")
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="gradingrule_one_active"),
        ]

    def __str__(self):
        return f"{self.name} (v{self.version})"


class RfmSegment(models.Model):
    """One row of the segment-name table: the first row (by position) whose score ranges match names the segment."""

    rule = models.ForeignKey(GradingRule, on_delete=models.CASCADE, related_name="segments")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    key = models.SlugField(_("key"), max_length=32, help_text=_("Short code, e.g. champions."))
    name = models.CharField(
        _("name"), max_length=64, blank=True, help_text=_("Shown to users; empty: the built-in name of the key.")
    )
    r_min = models.PositiveSmallIntegerField(_("R from"), default=1)
    r_max = models.PositiveSmallIntegerField(_("R to"), default=9)
    f_min = models.PositiveSmallIntegerField(_("F from"), default=1)
    f_max = models.PositiveSmallIntegerField(_("F to"), default=9)
    m_min = models.PositiveSmallIntegerField(_("M from"), default=1)
    m_max = models.PositiveSmallIntegerField(_("M to"), default=9)

    history = HistoricalRecords()

    class Meta:
        ordering = ["rule", "position", "pk"]
        verbose_name = _("RFM segment")
        verbose_name_plural = _("RFM segments")
        constraints = [models.UniqueConstraint(fields=["rule", "key"], name="rfmsegment_rule_key")]

    def __str__(self):
        return self.key


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class GradingRunQuerySet(models.QuerySet):
    def succeeded(self):
        return self.filter(status=RunStatus.SUCCEEDED)


class GradingRun(models.Model):
    """One grading as of a date. Rerunning for the same date replaces the run's grades."""

    as_of = models.DateField(_("as of"), unique=True)
    rule = models.ForeignKey(GradingRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="runs")
    rule_version = models.PositiveIntegerField(_("rule version"))
    rule_snapshot = models.JSONField(_("rule as used"), default=dict)
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    message = models.TextField(_("message"), blank=True)

    objects = GradingRunQuerySet.as_manager()

    class Meta:
        ordering = ["-as_of"]
        verbose_name = _("grading run")
        verbose_name_plural = _("grading runs")

    def __str__(self):
        return f"{self.as_of}"

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None


class CustomerGradeQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Grades of the customers the user may see."""
        if not roles.roles_of(user):
            return self.none()
        customers = Customer.objects.visible_to(user)
        if customers.query.where:
            return self.filter(customer__in=customers.values("pk"))
        return self

    def buyers(self):
        """Customers with at least one purchase occasion as of the run."""
        return self.filter(frequency__gt=0)


class CustomerGrade(models.Model):
    """One customer's grade in one run: the history of grades."""

    # No database constraints on either key: the job writes 100,000 rows at once, and PostgreSQL
    # checks a foreign key per inserted row (~15 % of the job, STACK-NOTES); the job alone writes
    # these rows, for the run it holds locked. (run, customer) below is the index of both lookups.
    run = models.ForeignKey(
        GradingRun, on_delete=models.CASCADE, related_name="grades", db_constraint=False, db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    # All history up to the as-of date.
    first_purchase = models.DateField(null=True)
    last_purchase = models.DateField(null=True)
    occasions = models.PositiveIntegerField(default=0)
    # RFM within the rule's look-back window.
    recency = models.PositiveIntegerField(_("recency (days)"), null=True)
    frequency = models.PositiveIntegerField(_("frequency"), default=0)
    monetary = models.DecimalField(_("monetary"), default=0, **MONEY)
    gross_profit = models.DecimalField(_("gross profit"), default=0, **MONEY)
    r = models.PositiveSmallIntegerField(null=True)
    f = models.PositiveSmallIntegerField(null=True)
    m = models.PositiveSmallIntegerField(null=True)
    rfm_code = models.CharField(_("RFM code"), max_length=3, blank=True)
    segment = models.CharField(_("segment"), max_length=32, blank=True)
    value = models.DecimalField(_("value"), default=0, **MONEY)
    tier = models.CharField(_("tier"), max_length=16, choices=Customer.Tier.choices, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=Customer.State.choices)
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=16, choices=Customer.LifecycleStage.choices)
    # Filled by the churn run of the same as-of date.
    p_alive = models.FloatField(_("P(alive)"), null=True)
    expected_purchases = models.FloatField(_("expected purchases (365 days)"), null=True)
    clv = models.DecimalField(_("customer lifetime value"), null=True, **MONEY)
    churn_risk = models.CharField(_("churn risk"), max_length=8, choices=Customer.ChurnRisk.choices, blank=True)
    churn_reasons = models.JSONField(_("churn reasons"), default=list)

    objects = CustomerGradeQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer grade")
        verbose_name_plural = _("customer grades")
        constraints = [models.UniqueConstraint(fields=["run", "customer"], name="customergrade_run_customer")]
        indexes = [
            models.Index(fields=["customer", "run"], name="customergrade_customer_run"),
            # The customers of a tier (the pyramid's links): 145 → 70 ms at 100,000 customers, for
            # about 0.4 s more grading.
            models.Index(fields=["run", "tier"], name="customergrade_run_tier"),
        ]

    def __str__(self):
        return f"{self.customer_id} @ {self.run_id}: {self.rfm_code}"


class FigureSet(models.Model):
    """A dashboard's figures as a job computed them for one visibility scope ("all", "user-<id>"):
    what the page reads instead of aggregating the customers on every request (services/summaries.py)."""

    run = models.ForeignKey(GradingRun, on_delete=models.CASCADE, related_name="figure_sets")
    key = models.CharField(max_length=32)
    scope = models.CharField(max_length=32)
    figures = models.JSONField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("dashboard figures")
        verbose_name_plural = _("dashboard figures")
        constraints = [models.UniqueConstraint(fields=["run", "key", "scope"], name="figureset_run_key_scope")]

    def __str__(self):
        return f"{self.key} @ {self.run_id} ({self.scope})"


class StateTransitionQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Transitions of the customers the user may see."""
        return self.filter(customer__in=Customer.objects.visible_to(user).values("pk"))


class StateTransition(models.Model):
    """A customer's state changed between the previous grading run and this one."""

    run = models.ForeignKey(GradingRun, on_delete=models.CASCADE, related_name="transitions")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField(_("as of"))
    from_state = models.CharField(_("from"), max_length=16, choices=Customer.State.choices)
    to_state = models.CharField(_("to"), max_length=16, choices=Customer.State.choices)

    objects = StateTransitionQuerySet.as_manager()

    class Meta:
        ordering = ["-as_of", "pk"]
        verbose_name = _("state change")
        verbose_name_plural = _("state changes")
        constraints = [models.UniqueConstraint(fields=["run", "customer"], name="statetransition_run_customer")]
        indexes = [models.Index(fields=["customer", "-as_of"], name="statetransition_customer")]

    def __str__(self):
        return f"{self.customer_id}: {self.from_state} → {self.to_state}"

    @property
    def is_won_back(self) -> bool:
        return self.from_state == Customer.State.LOST


class ChurnModelRun(models.Model):
    """The churn and CLV models fitted as of a date, and what they gave."""

    as_of = models.DateField(_("as of"), unique=True)
    grading_run = models.OneToOneField(GradingRun, on_delete=models.CASCADE, related_name="churn_run")
    status = models.CharField(_("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # BG/NBD, time unit days.
    bgnbd_r = models.FloatField(null=True)
    bgnbd_alpha = models.FloatField(null=True)
    bgnbd_a = models.FloatField(null=True)
    bgnbd_b = models.FloatField(null=True)
    bgnbd_loglik = models.FloatField(null=True)
    bgnbd_n = models.PositiveIntegerField(default=0)
    bgnbd_converged = models.BooleanField(default=False)
    # Gamma-Gamma.
    gg_p = models.FloatField(null=True)
    gg_q = models.FloatField(null=True)
    gg_gamma = models.FloatField(null=True)
    gg_loglik = models.FloatField(null=True)
    gg_n = models.PositiveIntegerField(default=0)
    gg_converged = models.BooleanField(default=False)
    # When a fit failed, the parameters above are the last good ones, from this run.
    fallback_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("parameters from")
    )
    average_margin = models.FloatField(null=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    message = models.TextField(_("message"), blank=True)

    class Meta:
        ordering = ["-as_of"]
        verbose_name = _("churn model run")
        verbose_name_plural = _("churn model runs")

    def __str__(self):
        return f"{self.as_of}"


class ChurnAlertQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Alerts on the customers the user may see."""
        if not roles.roles_of(user):
            return self.none()
        customers = Customer.objects.visible_to(user)
        if customers.query.where:
            return self.filter(customer__in=customers.values("pk"))
        return self

    def unresolved(self):
        """Alerts still being worked: open or contacted."""
        return self.filter(status__in=ChurnAlert.UNRESOLVED)


class ChurnAlert(models.Model):
    """A valuable customer at high risk of churning, with the reasons and a win-back task."""

    class Status(models.TextChoices):
        # With a context: "Open" and "Lost" name other things elsewhere (a task, a customer's state).
        OPEN = "open", pgettext_lazy("churn alert status", "Open")
        CONTACTED = "contacted", pgettext_lazy("churn alert status", "Contacted")
        WON_BACK = "won_back", pgettext_lazy("churn alert status", "Won back")
        LOST = "lost", pgettext_lazy("churn alert status", "Lost")

    UNRESOLVED = (Status.OPEN, Status.CONTACTED)

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+")
    churn_run = models.ForeignKey(
        ChurnModelRun, verbose_name=_("opened by run"), null=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    opened_on = models.DateField(_("opened on"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    reasons = models.JSONField(_("reasons"), default=list)
    p_alive = models.FloatField(_("P(alive)"), null=True)
    value_at_risk = models.DecimalField(_("value at risk"), default=0, **MONEY)
    task = models.ForeignKey(
        "customers.Task", verbose_name=_("win-back task"), null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.TextField(_("note"), blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = ChurnAlertQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_on", "-pk"]
        verbose_name = _("churn alert")
        verbose_name_plural = _("churn alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(status__in=["open", "contacted"]), name="churnalert_one_unresolved"
            ),
        ]
        indexes = [models.Index(fields=["status", "-opened_on"], name="churnalert_status")]

    def __str__(self):
        return f"{self.customer} ({self.get_status_display()})"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("analytics:alert_detail", args=[self.pk])


class InventorySnapshot(models.Model):
    """Stock of one product on one day, at cost (imported from CSV) — for the turnover rate."""

    product = models.ForeignKey("sales.Product", verbose_name=_("product"), on_delete=models.CASCADE, related_name="+")
    taken_on = models.DateField(_("date"))
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=2)
    value_at_cost = models.DecimalField(_("value at cost"), **MONEY)
    imported_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-taken_on", "product"]
        verbose_name = _("inventory snapshot")
        verbose_name_plural = _("inventory snapshots")
        constraints = [models.UniqueConstraint(fields=["product", "taken_on"], name="inventorysnapshot_product_day")]

    def __str__(self):
        return f"{self.product_id} @ {self.taken_on}"


class ProductAssociation(models.Model):
    """Products bought together in the year before a grading run's date: one rule A → B."""

    run = models.ForeignKey(GradingRun, on_delete=models.CASCADE, related_name="associations")
    antecedent = models.ForeignKey("sales.Product", on_delete=models.CASCADE, related_name="+")
    consequent = models.ForeignKey("sales.Product", on_delete=models.CASCADE, related_name="+")
    together = models.PositiveIntegerField(_("orders with both"))
    support = models.FloatField(_("support"))
    confidence = models.FloatField(_("confidence"))
    lift = models.FloatField(_("lift"))

    class Meta:
        verbose_name = _("product association")
        verbose_name_plural = _("product associations")
        constraints = [
            models.UniqueConstraint(fields=["run", "antecedent", "consequent"], name="productassociation_pair")
        ]
        indexes = [models.Index(fields=["run", "antecedent", "-lift"], name="productassociation_lookup")]

    def __str__(self):
        return f"{self.antecedent_id} → {self.consequent_id}"
