"""Leads, pipelines and opportunities, products and orders, the customer pool, sales targets.

Orders and their lines are the transaction history every analysis reads: each line keeps the
unit price and unit cost of the sale, and stores its amount and cost so that aggregates are
plain sums. An order's `amount` and `cost` are the sums of its lines, kept by the services.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers import roles
from customers.models import Contact, Customer, owner_scope

# Roles that see every lead, opportunity and order (managers read-only).
_SEE_ALL_SALES = frozenset({roles.ADMIN, roles.MANAGER})
SALES_ROLES = frozenset({roles.SALES_REP, roles.SALES_MANAGER})

MONEY = {"max_digits": 14, "decimal_places": 2}


def _sales_scope(qs, user, field="owner", *, unassigned_for_managers=False):
    """Rows of `qs` the user may see: all for admins and managers; own (and team's) for sales."""
    user_roles = roles.roles_of(user)
    if user_roles & _SEE_ALL_SALES:
        return qs
    if not user_roles & SALES_ROLES:
        return qs.none()
    scope = owner_scope(user, field)
    if unassigned_for_managers and roles.SALES_MANAGER in user_roles:
        scope |= Q(**{f"{field}__isnull": True})
    return qs.filter(scope)


def _sales_edit_scope(qs, user, field="owner", *, unassigned_for_managers=False):
    """Rows of `qs` the user may change: admins all; sales their own and their teams'."""
    if roles.is_admin(user):
        return qs
    if not roles.has_role(user, *SALES_ROLES):
        return qs.none()
    return _sales_scope(qs, user, field, unassigned_for_managers=unassigned_for_managers)


# ---------------------------------------------------------------------------------------------
# Leads


class ScreeningCriterion(models.Model):
    """One item of the admin-configured checklist a lead is screened against."""

    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=255, blank=True)
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("screening criterion")
        verbose_name_plural = _("screening criteria")
        constraints = [models.CheckConstraint(condition=Q(weight__gt=0), name="screening_weight_positive")]

    def __str__(self):
        return self.name


class LeadQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Leads the user may see: admins and managers all; a sales manager their team's and the
        unassigned ones; a rep their own."""
        return _sales_scope(self, user, unassigned_for_managers=True)

    def editable_by(self, user):
        """Leads the user may change: admins all; sales managers their team's and unassigned; reps their own."""
        return _sales_edit_scope(self, user, unassigned_for_managers=True)

    def open(self):
        """Leads neither converted nor disqualified."""
        return self.exclude(status__in=[Lead.Status.CONVERTED, Lead.Status.DISQUALIFIED])


class Lead(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        CONTACTED = "contacted", _("Contacted")
        QUALIFIED = "qualified", _("Qualified")
        CONVERTED = "converted", _("Converted")
        DISQUALIFIED = "disqualified", _("Disqualified")

    name = models.CharField(_("contact name"), max_length=100)
    company = models.CharField(_("company"), max_length=200, blank=True)
    job_title = models.CharField(_("job title"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    region = models.CharField(_("region"), max_length=64, blank=True)
    message = models.TextField(_("message"), blank=True, help_text=_("What the prospect asked for."))
    source = models.CharField(_("source"), max_length=16, choices=Customer.Source.choices, blank=True)
    referred_by = models.ForeignKey(
        Customer,
        verbose_name=_("referred by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referred_leads",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )
    # Sum of the weights of the criteria met, as a percentage of all active weights (services).
    score = models.PositiveSmallIntegerField(_("score"), default=0)
    criteria_met = models.ManyToManyField(
        ScreeningCriterion, verbose_name=_("criteria met"), blank=True, related_name="leads"
    )
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    from_web_form = models.BooleanField(_("from the web form"), default=False, editable=False)
    disqualify_reason = models.CharField(_("reason for disqualifying"), max_length=255, blank=True)
    # What the lead became when converted.
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opportunity = models.ForeignKey(
        "Opportunity",
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            models.Index(fields=["owner", "status", "-created_at"], name="lead_owner_status"),
            models.Index(fields=["status", "-created_at"], name="lead_status_created"),
        ]

    def __str__(self):
        return f"{self.name} ({self.company})" if self.company else self.name

    def get_absolute_url(self):
        return reverse("sales:lead_detail", kwargs={"pk": self.pk})

    @property
    def is_open(self):
        return self.status not in {self.Status.CONVERTED, self.Status.DISQUALIFIED}


class LeadRouting(models.Model):
    """How leads from the public web form are assigned: left unassigned, or round-robin over reps.

    One row (pk=1), edited in the admin."""

    class Mode(models.TextChoices):
        UNASSIGNED = "unassigned", _("Leave unassigned")
        ROUND_ROBIN = "round_robin", _("Round-robin over the chosen reps")

    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.UNASSIGNED)
    reps = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("reps"), blank=True, related_name="+")
    # Id of the rep who got the last lead; the next one goes to the rep after them.
    last_assigned_id = models.IntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("web lead routing")
        verbose_name_plural = _("web lead routing")

    def __str__(self):
        return str(self.get_mode_display())


# ---------------------------------------------------------------------------------------------
# Pipelines and opportunities


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_default = models.BooleanField(_("default"), default=False)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_pipeline")
        ]

    def __str__(self):
        return self.name


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(_("default probability (%)"), default=0)
    is_won = models.BooleanField(_("won"), default=False)
    is_lost = models.BooleanField(_("lost"), default=False)

    class Meta:
        ordering = ["pipeline", "position", "pk"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_name_unique_in_pipeline"),
            models.CheckConstraint(condition=Q(probability__lte=100), name="stage_probability_max_100"),
            models.CheckConstraint(condition=~(Q(is_won=True) & Q(is_lost=True)), name="stage_not_won_and_lost"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_closed(self):
        return self.is_won or self.is_lost


class OpportunityQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Opportunities the user may see: admins and managers all; sales their own and their teams'."""
        return _sales_scope(self, user)

    def editable_by(self, user):
        """Opportunities the user may change: admins all; sales their own and their teams'."""
        return _sales_edit_scope(self, user)

    def open(self):
        """Opportunities in a stage that is neither won nor lost."""
        return self.filter(stage__is_won=False, stage__is_lost=False)

    def won(self):
        return self.filter(stage__is_won=True)

    def lost(self):
        return self.filter(stage__is_lost=True)


class Opportunity(models.Model):
    name = models.CharField(_("name"), max_length=200)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="opportunities"
    )
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    pipeline = models.ForeignKey(Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT, related_name="+")
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="opportunities")
    amount = models.DecimalField(_("amount"), default=0, **MONEY)
    probability = models.PositiveSmallIntegerField(_("probability (%)"), default=0)
    expected_close = models.DateField(_("expected close date"), null=True, blank=True)
    next_step = models.CharField(_("next step"), max_length=255, blank=True)
    competitor = models.CharField(_("competitor"), max_length=200, blank=True)
    lost_reason = models.CharField(_("lost reason"), max_length=255, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    objects = OpportunityQuerySet.as_manager()

    class Meta:
        ordering = ["expected_close", "pk"]
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [
            models.Index(fields=["owner", "stage"], name="opportunity_owner_stage"),
            models.Index(fields=["stage", "expected_close"], name="opportunity_stage_close"),
            models.Index(fields=["expected_close"], name="opportunity_close"),
        ]
        constraints = [models.CheckConstraint(condition=Q(probability__lte=100), name="opportunity_probability_max")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("sales:opportunity_detail", kwargs={"pk": self.pk})

    @property
    def weighted_amount(self):
        return self.amount * self.probability / 100


class OpportunityLine(models.Model):
    """A product the opportunity is about; marking the opportunity won turns these into order lines."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, default=1)
    unit_price = models.DecimalField(_("unit price"), **MONEY)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("opportunity product")
        verbose_name_plural = _("opportunity products")
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="opportunity_line_quantity_positive")]

    def __str__(self):
        return f"{self.product} × {self.quantity}"


class StageChange(models.Model):
    """One move of an opportunity between stages: the data of cycle-time and conversion reports.

    The first row of every opportunity has no `from_stage`: it records where it started."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["changed_at", "pk"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        indexes = [models.Index(fields=["to_stage", "changed_at"], name="stagechange_to_at")]

    def __str__(self):
        return f"{self.from_stage or '–'} → {self.to_stage}"


# ---------------------------------------------------------------------------------------------
# Products and orders


class ProductQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=100, blank=True)
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    unit_cost = models.DecimalField(_("unit cost"), **MONEY)
    active = models.BooleanField(_("active"), default=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self):
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self):
        return reverse("sales:product_detail", kwargs={"pk": self.pk})


class OrderQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Orders the user may see: admins, managers and service staff all; sales their own and their teams'."""
        if roles.has_role(user, *roles.SERVICE_ROLES) and not roles.has_role(user, *SALES_ROLES):
            return self
        return _sales_scope(self, user)

    def editable_by(self, user):
        """Orders the user may change: admins all; sales their own and their teams'."""
        return _sales_edit_scope(self, user)

    def counted(self):
        """Orders the analyses count: every order not cancelled (DESIGN.md, "Analytical definitions")."""
        return self.exclude(status=Order.Status.CANCELLED)


class Order(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        CONFIRMED = "confirmed", _("Confirmed")
        DELIVERED = "delivered", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")

    # Unique through Meta constraints rather than unique=True, which on PostgreSQL adds a second
    # (pattern) index per column that every bulk import would pay for.
    number = models.CharField(_("order number"), max_length=32)
    # The key of an imported order (the source system's order number); re-imports match on it.
    order_ref = models.CharField(_("external reference"), max_length=64, null=True, blank=True)
    # No single-column indexes: the composite indexes below start with these columns.
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        db_index=False,
    )
    opportunity = models.ForeignKey(
        Opportunity,
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    ordered_at = models.DateField(_("order date"), default=timezone.localdate)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    # Sums of the lines, kept by the services (and the import) so analyses need no join.
    amount = models.DecimalField(_("amount"), default=0, **MONEY)
    cost = models.DecimalField(_("cost"), default=0, **MONEY)
    notes = models.TextField(_("notes"), blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-ordered_at", "-pk"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["customer", "ordered_at"], name="order_customer_date"),
            models.Index(fields=["owner", "-ordered_at"], name="order_owner_date"),
            models.Index(fields=["status", "-ordered_at"], name="order_status_date"),
            models.Index(fields=["-ordered_at", "-id"], name="order_date_desc"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="order_number_unique"),
            models.UniqueConstraint(fields=["order_ref"], name="order_ref_unique"),
            models.CheckConstraint(condition=~Q(order_ref=""), name="order_ref_not_blank"),
        ]
        permissions = [("import_orders", _("Can import orders from a file"))]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("sales:order_detail", kwargs={"pk": self.pk})

    @property
    def gross_profit(self):
        return self.amount - self.cost


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    # Imported lines may name no product: then the description says what was sold.
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="order_lines",
        db_index=False,  # orderline_product_order starts with it
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, default=1)
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    unit_cost = models.DecimalField(_("unit cost"), default=0, **MONEY)
    # quantity × unit price / cost, stored so that every aggregate is a plain SUM.
    amount = models.DecimalField(_("amount"), default=0, **MONEY)
    cost = models.DecimalField(_("cost"), default=0, **MONEY)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        indexes = [models.Index(fields=["product", "order"], name="orderline_product_order")]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive")]

    def __str__(self):
        return f"{self.product or self.description} × {self.quantity}"


class Sequence(models.Model):
    """Counters for human-friendly numbers (`SO-2026-000123`), one row per prefix and year,
    incremented under a row lock so two orders never get the same number."""

    prefix = models.CharField(max_length=16)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="sequence_prefix_year")]

    def __str__(self):
        return f"{self.prefix}-{self.year}: {self.last}"


# ---------------------------------------------------------------------------------------------
# Customer pool


class PoolRule(models.Model):
    """The recycling rule of the customer pool (one row, pk=1, edited in the admin).

    A customer whose owner has logged no interaction and closed no order for the tier's number
    of days goes back to the pool; 0 days turns recycling off for that tier."""

    active = models.BooleanField(_("recycling on"), default=True)
    days_vip = models.PositiveIntegerField(_("days for VIP customers"), default=180)
    days_key = models.PositiveIntegerField(_("days for key customers"), default=120)
    days_ordinary = models.PositiveIntegerField(_("days for ordinary customers"), default=90)
    days_small = models.PositiveIntegerField(_("days for small customers"), default=60)
    days_ungraded = models.PositiveIntegerField(_("days for customers without a tier"), default=30)
    claim_limit = models.PositiveIntegerField(
        _("claim limit"), default=50, help_text=_("How many customers a rep may own before claiming is refused.")
    )

    class Meta:
        verbose_name = _("customer pool rule")
        verbose_name_plural = _("customer pool rule")

    def __str__(self):
        return str(_("Customer pool rule"))

    def days_for(self, tier: str) -> int:
        return {
            Customer.Tier.VIP: self.days_vip,
            Customer.Tier.KEY: self.days_key,
            Customer.Tier.ORDINARY: self.days_ordinary,
            Customer.Tier.SMALL: self.days_small,
        }.get(tier, self.days_ungraded)


class PoolMoveQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Moves of customers the user may see."""
        return self.filter(customer__in=Customer.objects.visible_to(user))


class PoolMove(models.Model):
    """One move of a customer into or out of the pool: who, when, why."""

    class Action(models.TextChoices):
        RECYCLED = "recycled", _("Returned to the pool by the rule")
        RELEASED = "released", _("Released to the pool")
        CLAIMED = "claimed", _("Claimed")
        ASSIGNED = "assigned", _("Assigned from the pool")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="pool_moves")
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    moved_at = models.DateTimeField(_("moved at"), default=timezone.now)

    objects = PoolMoveQuerySet.as_manager()

    class Meta:
        ordering = ["-moved_at", "-pk"]
        verbose_name = _("pool move")
        verbose_name_plural = _("pool moves")
        indexes = [models.Index(fields=["customer", "-moved_at"], name="poolmove_customer_at")]

    def __str__(self):
        return f"{self.customer}: {self.get_action_display()}"


# ---------------------------------------------------------------------------------------------
# Targets


class SalesTargetQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Targets the user may see: admins and managers all; a sales manager their teams'; a rep their own."""
        return _sales_scope(self, user, "rep")


class SalesTarget(models.Model):
    """What a rep should sell in a month, set by their sales manager."""

    rep = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("rep"), on_delete=models.CASCADE, related_name="+")
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    amount = models.DecimalField(_("target amount"), **MONEY)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    objects = SalesTargetQuerySet.as_manager()

    class Meta:
        ordering = ["-month", "rep"]
        verbose_name = _("sales target")
        verbose_name_plural = _("sales targets")
        constraints = [
            models.UniqueConstraint(fields=["rep", "month"], name="sales_target_rep_month"),
        ]

    def __str__(self):
        return f"{self.rep} {self.month:%Y-%m}"
