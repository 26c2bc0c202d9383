from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from . import roles
from .normalize import digits_only, normalize_phone, search_key, search_text

# Roles that see every customer's basic data (managers and marketing read-only).
_SEE_ALL_CUSTOMERS = frozenset({roles.ADMIN, roles.MANAGER, roles.MARKETING}) | roles.SERVICE_ROLES


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_teams",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), blank=True, related_name="teams"
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self):
        return self.name


def managed_user_ids(user):
    """Subquery of the ids of users in teams that `user` manages."""
    return Team.members.through.objects.filter(team__manager=user).values("user_id")


def owner_scope(user, field="owner"):
    """Q for rows owned by `user` or, for a sales manager, by a member of their teams."""
    scope = Q(**{field: user})
    if roles.has_role(user, roles.SALES_MANAGER):
        scope |= Q(**{f"{field}__in": managed_user_ids(user)})
    return scope


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name


# Shortest search text for which the trigram index pays off: three characters are a single
# trigram, which matched a third of all phones in the 100k benchmark ("138").
INDEXED_SEARCH_MIN = 4


class CustomerQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Customers the user may see: all for admins, managers, service and marketing;
        their own (and their teams') for sales."""
        user_roles = roles.roles_of(user)
        if not user_roles:
            return self.none()
        if user_roles & _SEE_ALL_CUSTOMERS:
            return self
        return self.filter(owner_scope(user))

    def visibility_scope(self, user) -> str:
        """A key naming what `visible_to(user)` shows: the same key, the same customers."""
        user_roles = roles.roles_of(user)
        if user_roles & _SEE_ALL_CUSTOMERS:
            return "all"
        return f"user-{user.pk}" if user_roles else "none"

    def editable_by(self, user):
        """Customers the user may change: admins all; sales their own and their teams'."""
        if roles.is_admin(user):
            return self
        if not roles.has_role(user, roles.SALES_REP, roles.SALES_MANAGER):
            return self.none()
        return self.filter(owner_scope(user))

    def active(self):
        """Customers not archived."""
        return self.filter(archived=False)

    def search(self, text):
        """Customers whose name, phone, email, reference or a contact's name, phone or email contains `text`."""
        key = search_key(text)
        if not key:
            return self
        if key.isdigit() and len(key) < 3:
            # One or two digits are inside nearly every phone number: no useful answer.
            return self.none()
        # One stored, pre-normalised column per table: a plain LIKE, served by a trigram index
        # on PostgreSQL, instead of UPPER(...) LIKE over several columns.
        match = Q(search_text__contains=key)
        digits = digits_only(text)
        if len(digits) >= 3 and digits != key:
            match |= Q(search_text__contains=digits)
        contacts = Contact.objects.filter(match).order_by().values("customer_id")
        if len(key) < INDEXED_SEARCH_MIN:
            # Too short for the trigram index to narrow much: one pass over the customers is cheaper.
            return self.filter(match | Q(pk__in=contacts))
        # IN over a UNION lets each table use its trigram index (PostgreSQL); an OR across
        # the two tables would scan every customer.
        return self.filter(pk__in=Customer.objects.filter(match).order_by().values("pk").union(contacts))


class Customer(models.Model):
    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        ORGANISATION = "organisation", _("Organisation")

    class Category(models.TextChoices):
        CONSUMER = "consumer", _("Consumer")
        GROUP_BUYER = "group_buyer", _("Group buyer")
        CHANNEL = "channel", _("Channel / intermediary")
        INTERNAL = "internal", _("Internal")
        PUBLIC_BODY = "public_body", _("Public body")

    class RelationshipLevel(models.TextChoices):
        TRANSACTIONAL = "transactional", _("Transactional")
        PREFERRED_SUPPLIER = "preferred_supplier", _("Preferred supplier")
        PARTNER = "partner", _("Partner")
        STRATEGIC_ALLIANCE = "strategic_alliance", _("Strategic alliance")

    class Source(models.TextChoices):
        REFERRAL = "referral", _("Referral (word of mouth)")
        WEBSITE = "website", _("Website")
        ADVERTISING = "advertising", _("Advertising")
        EXHIBITION = "exhibition", _("Exhibition / trade fair")
        COLD_CALL = "cold_call", _("Cold call")
        CAMPAIGN = "campaign", _("Marketing campaign")
        PARTNER = "partner", _("Partner")
        WALK_IN = "walk_in", _("Walk-in")
        OTHER = "other", _("Other")

    class Industry(models.TextChoices):
        MANUFACTURING = "manufacturing", _("Manufacturing")
        RETAIL = "retail", _("Retail")
        WHOLESALE = "wholesale", _("Wholesale and distribution")
        SOFTWARE = "software", _("IT and software")
        FINANCE = "finance", _("Finance and insurance")
        EDUCATION = "education", _("Education")
        HEALTHCARE = "healthcare", _("Healthcare")
        CONSTRUCTION = "construction", _("Construction and real estate")
        LOGISTICS = "logistics", _("Logistics")
        HOSPITALITY = "hospitality", _("Hospitality and catering")
        AGRICULTURE = "agriculture", _("Agriculture")
        ENERGY = "energy", _("Energy")
        PROFESSIONAL = "professional", _("Professional services")
        GOVERNMENT = "government", _("Government and public sector")
        OTHER = "other", _("Other")

    class ConsentChannel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        PHONE = "phone", _("Phone")
        WECHAT = "wechat", _("WeChat")
        IN_PERSON = "in_person", _("In person")
        WEB_FORM = "web_form", _("Web form")

    class Tier(models.TextChoices):
        VIP = "vip", _("VIP")
        KEY = "key", _("Key")
        ORDINARY = "ordinary", _("Ordinary")
        SMALL = "small", _("Small")

    class State(models.TextChoices):
        POTENTIAL = "potential", _("Potential")
        FIRST_TIME = "first_time", _("First-time")
        REPEAT = "repeat", _("Repeat")
        LOYAL = "loyal", _("Loyal")
        LOST = "lost", _("Lost")

    class LifecycleStage(models.TextChoices):
        EXPLORATION = "exploration", _("Exploration")
        FORMATION = "formation", _("Formation")
        STABILITY = "stability", _("Stability")
        DECLINE = "decline", _("Decline")

    class ChurnRisk(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")

    external_ref = models.CharField(
        _("external reference"),
        max_length=64,
        null=True,
        blank=True,
        help_text=_("The key imports match on, e.g. the ERP customer number."),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.ORGANISATION)
    name = models.CharField(_("name"), max_length=200)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    phone_digits = models.CharField(max_length=32, blank=True, editable=False)
    email = models.EmailField(_("email"), blank=True)
    search_text = models.TextField(blank=True, editable=False)
    region = models.CharField(_("region"), max_length=64, blank=True, help_text=_("Province or state."))
    city = models.CharField(_("city"), max_length=64, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    industry = models.CharField(_("industry"), max_length=32, choices=Industry.choices, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_customers",
    )
    category = models.CharField(_("category"), max_length=16, choices=Category.choices, default=Category.CONSUMER)
    relationship_level = models.CharField(
        _("relationship level"),
        max_length=24,
        choices=RelationshipLevel.choices,
        default=RelationshipLevel.TRANSACTIONAL,
    )
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, blank=True)
    referred_by = models.ForeignKey(
        "self",
        verbose_name=_("referred by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
    )
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    consent_channel = models.CharField(_("consent channel"), max_length=16, choices=ConsentChannel.choices, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    anniversary = models.DateField(_("anniversary"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="customers")
    archived = models.BooleanField(_("archived"), default=False)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_customers",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    # The current grade, written only by the analytics app.
    tier = models.CharField(_("tier"), max_length=16, choices=Tier.choices, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.POTENTIAL)
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=16, choices=LifecycleStage.choices, blank=True)
    rfm_code = models.CharField(_("RFM code"), max_length=3, blank=True)
    churn_risk = models.CharField(_("churn risk"), max_length=8, choices=ChurnRisk.choices, blank=True)
    clv = models.DecimalField(_("customer lifetime value"), max_digits=14, decimal_places=2, null=True, blank=True)
    graded_at = models.DateTimeField(_("graded at"), null=True, blank=True, editable=False)

    # Tag changes are recorded in the same history row, as its change reason (services.py).
    history = HistoricalRecords(excluded_fields=["updated_at", "phone_digits", "search_text", "graded_at"])

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(
                fields=["external_ref"],
                condition=Q(external_ref__isnull=False),
                name="customer_external_ref_unique",
            ),
            models.CheckConstraint(condition=~Q(external_ref=""), name="customer_external_ref_not_blank"),
        ]
        indexes = [
            models.Index(fields=["archived", "name"], name="customer_archived_name"),
            models.Index(fields=["owner", "archived", "name"], name="customer_owner_name"),
            # Serves `visible_to` for sales people as an index-only scan: every "customers of this
            # rep" subquery (analytics lists, alert counts) read the whole table before (88 → 7 ms).
            models.Index(fields=["owner", "id"], name="customer_owner_id"),
            models.Index(fields=["phone_digits"], name="customer_phone_digits"),
            models.Index(fields=["email"], name="customer_email"),
            models.Index(fields=["archived", "updated_at"], name="customer_archived_updated"),
            # Serves the tier counts of the list (an index-only scan) and the tier filter.
            models.Index(fields=["archived", "tier"], name="customer_archived_tier"),
            models.Index(fields=["state"], name="customer_state"),
        ]
        permissions = [("import_customers", _("Can import customers from a file"))]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("customers:detail", kwargs={"pk": self.pk})

    def set_search_keys(self):
        """Derive the normalised phone and the search text from the fields people edit."""
        self.phone_digits = normalize_phone(self.phone)
        self.search_text = search_text(self.name, self.email, self.external_ref or "", self.phone_digits)


class ContactQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Contacts of customers the user may see."""
        return self.filter(customer__in=Customer.objects.visible_to(user))


class Contact(models.Model):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=120)
    title = models.CharField(_("job title"), max_length=120, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    phone_digits = models.CharField(max_length=32, blank=True, editable=False)
    email = models.EmailField(_("email"), blank=True)
    search_text = models.TextField(blank=True, editable=False)
    is_primary = models.BooleanField(_("primary contact"), default=False)
    notes = models.CharField(_("notes"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["-is_primary", "name", "pk"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [models.Index(fields=["phone_digits"], name="contact_phone_digits")]

    def __str__(self):
        return self.name

    def set_search_keys(self):
        """Derive the normalised phone and the search text from the fields people edit."""
        self.phone_digits = normalize_phone(self.phone)
        self.search_text = search_text(self.name, self.email, self.phone_digits)


class InteractionQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Interactions with customers the user may see."""
        return self.filter(customer__in=Customer.objects.visible_to(user))


class Interaction(models.Model):
    class Kind(models.TextChoices):
        VISIT = "visit", _("Visit")
        CALL = "call", _("Call")
        EMAIL = "email", _("Email")
        MESSAGE = "message", _("Message")
        MEETING = "meeting", _("Meeting")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="interactions"
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.CALL)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
    )
    subject = models.CharField(_("subject"), max_length=200)
    outcome = models.TextField(_("outcome"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = InteractionQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="interaction_customer_time"),
            models.Index(fields=["actor", "-occurred_at"], name="interaction_actor_time"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.subject}"


class TaskQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Tasks the user owns or made, and tasks on customers the user may see."""
        if not roles.roles_of(user):
            return self.filter(Q(owner=user) | Q(created_by=user)) if user.is_authenticated else self.none()
        if roles.has_role(user, roles.ADMIN, roles.MANAGER):
            return self
        return self.filter(Q(owner=user) | Q(created_by=user) | Q(customer__in=Customer.objects.visible_to(user)))

    def open(self):
        """Tasks not done yet."""
        return self.filter(done=False)

    def overdue(self, *, today=None):
        """Open tasks whose due date has passed."""
        return self.open().filter(due_date__lt=today or timezone.localdate())

    def due_today(self, *, today=None):
        """Open tasks due today."""
        return self.open().filter(due_date=today or timezone.localdate())


class Task(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", _("Manual")
        SYSTEM = "system", _("System")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tasks",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="tasks"
    )
    title = models.CharField(_("title"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    due_date = models.DateField(_("due date"))
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    # Other modules put their own short codes here (care_plan, churn_alert, escalation, …).
    source = models.CharField(_("source"), max_length=32, default=Source.MANUAL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["done", "due_date", "pk"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["owner", "done", "due_date"], name="task_owner_due"),
            models.Index(fields=["customer", "done"], name="task_customer_open"),
        ]

    def __str__(self):
        return self.title

    def is_overdue(self, today=None):
        return not self.done and self.due_date < (today or timezone.localdate())


class CustomerMerge(models.Model):
    """The record of one merge: which customer was folded into which, by whom, what moved."""

    kept = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges")
    merged = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    merged_at = models.DateTimeField(default=timezone.now)
    moved = models.JSONField(default=dict, help_text=_("How many rows of each kind moved."))

    class Meta:
        ordering = ["-merged_at"]
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")

    def __str__(self):
        return f"{self.merged} → {self.kept}"


class JobRun(models.Model):
    """One run of a background job or command: when, how it ended, what it counted."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    job = models.CharField(_("job"), max_length=100)
    as_of = models.DateField(_("as of"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    message = models.TextField(_("message"), blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        indexes = [models.Index(fields=["job", "-started_at"], name="jobrun_job_started")]

    def __str__(self):
        return f"{self.job} @ {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None


class ImportJob(models.Model):
    """A file uploaded for import, processed by a Celery job that reports its progress here."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        VALIDATING = "validating", _("Checking rows")
        WRITING = "writing", _("Saving")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=32, default="customers")
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    # The uploader's language: the job writes its reasons and summaries in it.
    language = models.CharField(max_length=16, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self):
        return self.original_name

    @property
    def is_finished(self):
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def percent(self):
        if self.is_finished:
            return 100
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0
