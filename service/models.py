"""Service tickets (complaints included), their timeline, SLA policies and satisfaction surveys."""

import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers import roles
from customers.models import Contact, Customer, Team
from sales.models import Order, Product


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class TicketCategory(models.Model):
    """A node of the admin-configured category tree (product quality › damaged on arrival)."""

    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "name", "pk"]
        verbose_name = _("ticket category")
        verbose_name_plural = _("ticket categories")
        constraints = [models.UniqueConstraint(fields=["parent", "name"], name="ticket_category_unique_in_parent")]

    def __str__(self):
        return f"{self.parent} › {self.name}" if self.parent_id else self.name


class SlaPolicy(models.Model):
    """Targets for first response and resolution, per priority and (optionally) customer tier.

    The most specific active policy applies: one for the customer's tier before one for any tier."""

    name = models.CharField(_("name"), max_length=100)
    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices)
    tier = models.CharField(
        _("customer tier"),
        max_length=16,
        choices=Customer.Tier.choices,
        blank=True,
        help_text=_("Leave empty for customers of any tier."),
    )
    first_response_minutes = models.PositiveIntegerField(_("first response within (minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution within (minutes)"))
    business_hours_only = models.BooleanField(
        _("count business hours only"), default=False, help_text=_("Count only working days between the hours below.")
    )
    day_starts = models.TimeField(_("business day starts"), default=datetime.time(9))
    day_ends = models.TimeField(_("business day ends"), default=datetime.time(18))
    # ISO weekdays, Monday = 1.
    working_days = models.CharField(_("working days"), max_length=20, default="1,2,3,4,5")
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["priority", "tier", "pk"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.UniqueConstraint(
                fields=["priority", "tier"], condition=Q(active=True), name="one_active_sla_per_priority_tier"
            ),
            models.CheckConstraint(condition=Q(day_starts__lt=models.F("day_ends")), name="sla_day_starts_before_end"),
        ]

    def __str__(self):
        return self.name


def next_due():
    """The due time a queue sorts by: the first-response due while nobody answered (if sooner), else the
    resolution due. One definition for the queue's ORDER BY and the indexes that serve it, which PostgreSQL
    only uses when both expressions are identical."""
    # Lookups in alphabetical order, as the migration writes them: the autodetector compares them in order.
    return models.Case(
        models.When(
            first_responded_at__isnull=True,
            first_response_due__isnull=False,
            first_response_due__lt=models.F("resolution_due"),
            resolution_due__isnull=False,
            then=models.F("first_response_due"),
        ),
        models.When(first_responded_at__isnull=True, resolution_due__isnull=True, then=models.F("first_response_due")),
        default=models.F("resolution_due"),
    )


PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


def priority_rank():
    """0 for urgent to 3 for low: the queue's "priority" sort, and the index that serves it."""
    return models.Case(
        *[models.When(priority=code, then=models.Value(n)) for code, n in PRIORITY_RANK.items()],
        output_field=models.IntegerField(),
    )


# Not resolved or closed: the same condition as `TicketQuerySet.open()`, so partial indexes match it.
OPEN_TICKET = ~Q(status__in=["resolved", "closed"])


class TicketQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Tickets the user may see: admins, managers and service supervisors all; an agent their own,
        their teams' and the unassigned; sales the tickets of customers they may see."""
        user_roles = roles.roles_of(user)
        if not user_roles:
            return self.none()
        if user_roles & {roles.ADMIN, roles.MANAGER, roles.SERVICE_SUPERVISOR}:
            return self
        scope = Q(pk__in=[])
        if roles.SERVICE_AGENT in user_roles:
            my_teams = Team.members.through.objects.filter(user=user).values("team_id")
            scope |= Q(assignee=user) | Q(assignee__isnull=True) | Q(team__in=my_teams)
        if user_roles & {roles.SALES_REP, roles.SALES_MANAGER}:
            scope |= Q(customer__in=Customer.objects.visible_to(user))
        return self.filter(scope)

    def open(self):
        """Tickets not resolved or closed."""
        return self.exclude(status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])

    def breaching(self, *, now=None):
        """Open tickets past their first-response or resolution due time."""
        now = now or timezone.now()
        return self.open().filter(
            Q(first_responded_at__isnull=True, first_response_due__lt=now) | Q(resolution_due__lt=now)
        )


class Ticket(models.Model):
    class Type(models.TextChoices):
        COMPLAINT = "complaint", _("Complaint")
        INQUIRY = "inquiry", _("Inquiry")
        REPAIR = "repair", _("Repair")
        REQUEST = "request", _("Request")
        SUGGESTION = "suggestion", _("Suggestion")

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("Email")
        WEB = "web", _("Web")
        VISIT = "visit", _("Visit")
        MESSAGE = "message", _("Message")

    Priority = Priority

    class Status(models.TextChoices):
        NEW = "new", _("New")
        ASSIGNED = "assigned", _("Assigned")
        IN_PROGRESS = "in_progress", _("In progress")
        WAITING = "waiting", _("Waiting on customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class RecoveryAction(models.TextChoices):
        APOLOGY = "apology", _("Apology")
        REFUND = "refund", _("Refund")
        REPLACEMENT = "replacement", _("Replacement")
        REPAIR = "repair", _("Repair")
        COMPENSATION = "compensation", _("Compensation")
        DISCOUNT = "discount", _("Discount or voucher")
        EXPLANATION = "explanation", _("Explanation only")
        OTHER = "other", _("Other")

    class Attitude(models.TextChoices):
        SATISFIED = "satisfied", _("Satisfied")
        ACCEPTED = "accepted", _("Accepted")
        DISSATISFIED = "dissatisfied", _("Dissatisfied")

    # Escalation levels: 0 none, then the supervisor, then the manager.
    class EscalationLevel(models.IntegerChoices):
        NONE = 0, _("Not escalated")
        SUPERVISOR = 1, _("Supervisor")
        MANAGER = 2, _("Manager")

    number = models.CharField(_("ticket number"), max_length=32, unique=True, editable=False)
    type = models.CharField(_("type"), max_length=16, choices=Type.choices, default=Type.INQUIRY)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.PHONE)
    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    category = models.ForeignKey(
        TicketCategory, verbose_name=_("category"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="tickets")
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order = models.ForeignKey(
        Order, verbose_name=_("order"), null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    sla_policy = models.ForeignKey(
        SlaPolicy, verbose_name=_("SLA policy"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("first responded at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(
        _("escalation level"), choices=EscalationLevel.choices, default=EscalationLevel.NONE
    )
    resolution = models.TextField(_("resolution"), blank=True)
    # Complaints
    root_cause = models.CharField(_("root cause"), max_length=255, blank=True)
    recovery_action = models.CharField(
        _("service-recovery action"), max_length=16, choices=RecoveryAction.choices, blank=True
    )
    feedback_to_customer = models.TextField(_("result fed back to the customer"), blank=True)
    customer_attitude = models.CharField(
        _("customer's attitude to the resolution"), max_length=16, choices=Attitude.choices, blank=True
    )
    is_repeat = models.BooleanField(
        _("repeat complaint"), default=False, help_text=_("The customer complained before within the repeat window.")
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["resolution_due", "pk"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            models.Index(fields=["assignee", "status", "resolution_due"], name="ticket_assignee_due"),
            models.Index(fields=["status", "resolution_due"], name="ticket_status_due"),
            models.Index(fields=["team", "status"], name="ticket_team_status"),
            models.Index(fields=["customer", "type", "created_at"], name="ticket_customer_type"),
            models.Index(fields=["type", "created_at"], name="ticket_type_created"),
            # The queue's default order (next due time, then pk): the open tickets, and all of them.
            models.Index(next_due(), "id", name="ticket_open_next_due", condition=OPEN_TICKET),
            models.Index(next_due(), "id", name="ticket_next_due"),
            # "My tickets" and "Unassigned" in any status, by due time (PostgreSQL orders by an index only
            # after an equality on the columns before, and IS NULL is not one: hence the partial index).
            models.Index("assignee", next_due(), "id", name="ticket_assignee_next_due"),
            models.Index(next_due(), "id", name="ticket_unassigned_next_due", condition=Q(assignee__isnull=True)),
            # The open tickets by the other sorts: newest or oldest first, priority then due time.
            models.Index(fields=["created_at", "id"], name="ticket_open_created", condition=OPEN_TICKET),
            models.Index(priority_rank(), next_due(), "id", name="ticket_open_priority_due", condition=OPEN_TICKET),
            # Counts per status under a queue's scope (assignee, team) and the breaching test, read from the
            # index alone: the queue counts every status on each page view.
            models.Index(
                fields=["status", "assignee", "team", "resolution_due", "first_response_due", "first_responded_at"],
                name="ticket_status_scope",
            ),
            # The monthly complaint report: every column its grouped queries read, so two months of
            # complaints come from the index alone rather than from scattered table pages.
            models.Index(
                fields=[
                    "created_at",
                    "category",
                    "channel",
                    "priority",
                    "status",
                    "product",
                    "customer",
                    "is_repeat",
                    "customer_attitude",
                    "first_response_due",
                    "first_responded_at",
                    "resolution_due",
                    "resolved_at",
                    "root_cause",
                    "id",
                ],
                condition=Q(type="complaint"),
                name="ticket_complaint_report",
            ),
        ]

    def __str__(self):
        return f"{self.number} {self.subject}"

    def get_absolute_url(self):
        return reverse("service:ticket_detail", kwargs={"pk": self.pk})

    @property
    def is_open(self):
        return self.status not in {self.Status.RESOLVED, self.Status.CLOSED}


class TicketEventQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Events of tickets the user may see."""
        return self.filter(ticket__in=Ticket.objects.visible_to(user))


class TicketEvent(models.Model):
    """One entry of a ticket's timeline: who did what, when."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STATUS = "status", _("Status changed")
        ASSIGNED = "assigned", _("Assigned")
        PRIORITY = "priority", _("Priority changed")
        NOTE = "note", _("Internal note")
        REPLY = "reply", _("Reply to the customer")
        ESCALATED = "escalated", _("Escalated")
        SURVEY = "survey", _("Survey answered")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_value = models.CharField(max_length=64, blank=True)
    to_value = models.CharField(max_length=64, blank=True)
    body = models.TextField(_("text"), blank=True)
    # For replies: when the email to the customer was handed to the mail backend.
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TicketEventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [models.Index(fields=["ticket", "created_at"], name="ticketevent_ticket_at")]
        constraints = [
            # The escalation job records each level once per ticket, even when two runs overlap.
            models.UniqueConstraint(
                fields=["ticket", "to_value"], condition=Q(kind="escalated"), name="ticket_escalated_once_per_level"
            )
        ]

    def __str__(self):
        return f"{self.ticket.number}: {self.get_kind_display()}"


class TicketAssignmentRule(models.Model):
    """Automatic assignment of new tickets to a team's members: round-robin or least open tickets."""

    class Mode(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round-robin")
        LEAST_OPEN = "least_open", _("Fewest open tickets")

    team = models.OneToOneField(Team, verbose_name=_("team"), on_delete=models.CASCADE, related_name="ticket_rule")
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.ROUND_ROBIN)
    ticket_types = models.CharField(
        _("ticket types"), max_length=100, blank=True, help_text=_("Comma-separated types; empty for all types.")
    )
    active = models.BooleanField(_("active"), default=True)
    last_assigned_id = models.IntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("ticket assignment rule")
        verbose_name_plural = _("ticket assignment rules")

    def __str__(self):
        return f"{self.team}: {self.get_mode_display()}"


# ---------------------------------------------------------------------------------------------
# Satisfaction surveys


class SurveyRule(models.Model):
    """When customers are invited to a survey (one row, pk=1, edited in the admin)."""

    active = models.BooleanField(_("sending on"), default=True)
    delay_hours = models.PositiveIntegerField(
        _("delay (hours)"), default=24, help_text=_("Hours after the ticket was closed or the order delivered.")
    )
    ticket_types = models.CharField(
        _("ticket types"),
        max_length=100,
        default="complaint,repair,request",
        blank=True,
        help_text=_("Comma-separated ticket types that invite a survey when closed; empty for none."),
    )
    after_delivery = models.BooleanField(_("invite after an order is delivered"), default=True)
    min_days_between = models.PositiveIntegerField(
        _("days between invitations"), default=30, help_text=_("At most one invitation per customer in this many days.")
    )
    reminder_after_days = models.PositiveIntegerField(_("reminder after (days)"), default=3)
    expires_after_days = models.PositiveIntegerField(_("link expires after (days)"), default=14)
    low_satisfaction = models.PositiveSmallIntegerField(
        _("low overall satisfaction"),
        default=2,
        help_text=_("An overall satisfaction at or below this (1–5) opens a service-recovery follow-up."),
    )
    low_recommend = models.PositiveSmallIntegerField(
        _("low likelihood to recommend"),
        default=6,
        help_text=_("A likelihood to recommend at or below this (0–10) opens a service-recovery follow-up."),
    )

    class Meta:
        verbose_name = _("survey rule")
        verbose_name_plural = _("survey rule")

    def __str__(self):
        return str(_("Survey rule"))


class SurveyInvitationQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Invitations about customers the user may see."""
        return self.filter(customer__in=Customer.objects.visible_to(user))


class SurveyInvitation(models.Model):
    """A personal survey link, written before it is emailed so that each is sent at most once."""

    token = models.CharField(max_length=64, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="survey_invitations")
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="survey_invitations"
    )
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.CASCADE, related_name="survey_invitations")
    email = models.EmailField(_("email"))
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"))
    responded_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    objects = SurveyInvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        indexes = [models.Index(fields=["customer", "-created_at"], name="surveyinv_customer_created")]
        constraints = [
            # One invitation per closed ticket and per delivered order, whatever the job does.
            models.UniqueConstraint(fields=["ticket"], condition=Q(ticket__isnull=False), name="one_survey_per_ticket"),
            models.UniqueConstraint(fields=["order"], condition=Q(order__isnull=False), name="one_survey_per_order"),
        ]

    def __str__(self):
        return f"{self.customer} ({self.created_at:%Y-%m-%d})"


# The five service-quality dimensions of DESIGN.md, each asked as expected and perceived (1–7).
DIMENSIONS = ("tangibles", "reliability", "responsiveness", "assurance", "empathy")


class SurveyResponseQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Responses of customers the user may see."""
        return self.filter(customer__in=Customer.objects.visible_to(user))


def _scale(label, low, high):
    return models.PositiveSmallIntegerField(label, validators=[MinValueValidator(low), MaxValueValidator(high)])


class SurveyResponse(models.Model):
    """The answers to one invitation: the five service-quality dimensions, expected and perceived
    (1–7), overall satisfaction (1–5), likelihood to recommend (0–10) and a comment."""

    DIMENSIONS = DIMENSIONS

    invitation = models.OneToOneField(SurveyInvitation, on_delete=models.CASCADE, related_name="response")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="survey_responses")
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="survey_responses"
    )
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="survey_responses")
    tangibles_expected = _scale(_("tangibles, expected"), 1, 7)
    tangibles_perceived = _scale(_("tangibles, perceived"), 1, 7)
    reliability_expected = _scale(_("reliability, expected"), 1, 7)
    reliability_perceived = _scale(_("reliability, perceived"), 1, 7)
    responsiveness_expected = _scale(_("responsiveness, expected"), 1, 7)
    responsiveness_perceived = _scale(_("responsiveness, perceived"), 1, 7)
    assurance_expected = _scale(_("assurance, expected"), 1, 7)
    assurance_perceived = _scale(_("assurance, perceived"), 1, 7)
    empathy_expected = _scale(_("empathy, expected"), 1, 7)
    empathy_perceived = _scale(_("empathy, perceived"), 1, 7)
    overall_satisfaction = _scale(_("overall satisfaction"), 1, 5)
    likelihood_to_recommend = _scale(_("likelihood to recommend"), 0, 10)
    comment = models.TextField(_("comment"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), default=timezone.now)

    objects = SurveyResponseQuerySet.as_manager()

    class Meta:
        ordering = ["-answered_at", "-pk"]
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        indexes = [models.Index(fields=["customer", "-answered_at"], name="surveyresp_customer_at")]
        constraints = [
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{dim}_{side}__gte": 1, f"{dim}_{side}__lte": 7}),
                    name=f"survey_{dim}_{side}_1_7",
                )
                for dim in DIMENSIONS
                for side in ("expected", "perceived")
            ],
            models.CheckConstraint(
                condition=Q(overall_satisfaction__gte=1, overall_satisfaction__lte=5), name="survey_overall_1_5"
            ),
            models.CheckConstraint(condition=Q(likelihood_to_recommend__lte=10), name="survey_recommend_0_10"),
        ]

    def __str__(self):
        return f"{self.customer} {self.answered_at:%Y-%m-%d}"

    @property
    def nps_group(self):
        """promoter (9–10), passive (7–8) or detractor (0–6)."""
        if self.likelihood_to_recommend >= 9:
            return "promoter"
        return "passive" if self.likelihood_to_recommend >= 7 else "detractor"
