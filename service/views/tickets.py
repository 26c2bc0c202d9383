"""Views of the service app: the ticket queue, create, detail (timeline, SLA clocks, in-place actions), edit.

Every view starts from `Ticket.objects.visible_to(user)` so a ticket the user may not see is a 404,
for pages and POST actions alike. Actions are small POST views calling one service; htmx posts get the
ticket's work area back, plain posts a redirect to the ticket.
"""

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_filters.views import FilterView

from customers import roles
from customers.models import Customer, Team

from ..filters import ANY, OPEN, TicketFilter, status_counts
from ..forms.tickets import (
    AssignForm,
    NoteForm,
    PriorityForm,
    ReplyForm,
    StatusForm,
    TicketCreateForm,
    TicketUpdateForm,
    service_staff,
)
from ..models import Ticket, TicketEvent
from ..services import tickets as services
from ..services.sla import warning_margin
from ..services.surveys import response_summaries

PAGE_SIZE = 25
# Each status is counted up to this many tickets; above it the queue says "10000+" rather than reading
# every closed ticket of the last years on each page view.
COUNT_CAP = 10_000
# With a search, whose matches are found row by row, counting stops sooner.
SEARCH_COUNT_CAP = 1_000
OPEN_STATUSES = [code for code in Ticket.Status.values if code not in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)]
WORKERS = (roles.ADMIN, roles.SERVICE_AGENT, roles.SERVICE_SUPERVISOR)
SEE_ALL = (roles.ADMIN, roles.MANAGER, roles.SERVICE_SUPERVISOR)


def can_work(user) -> bool:
    """Who may open and work tickets: service staff and admins (managers and sales read them)."""
    return roles.has_role(user, *WORKERS)


def _require_worker(user):
    if not can_work(user):
        raise PermissionDenied(_("Your role can read tickets but not work on them."))


def _duration(delta: datetime.timedelta) -> str:
    """A short, readable length of time: "2 d 3 h", "4 h 05 min", "12 min"."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d h %(m)02d min") % {"h": hours, "m": mins}
    return _("%(m)d min") % {"m": mins}


def sla_clock(label: str, due, done_at, now, *, is_open: bool) -> dict | None:
    """One SLA clock as the page shows it: met / met late / running with time left / overdue by."""
    if due is None:
        return None
    if done_at is not None:
        state = "met" if done_at <= due else "late"
        text = _("Met") if state == "met" else _("Met %(late)s late") % {"late": _duration(done_at - due)}
    elif not is_open:
        state, text = "stopped", _("Stopped")
    elif due < now:
        state, text = "overdue", _("Overdue by %(time)s") % {"time": _duration(now - due)}
    else:
        state, text = "running", _("%(time)s left") % {"time": _duration(due - now)}
    return {"label": label, "due": due, "state": state, "text": text}


def sla_state(ticket: Ticket, now) -> str:
    """ "breached", "soon" (within the warning margin) or "" for a row of the queue; no query."""
    if not ticket.is_open:
        return ""
    dues = [ticket.resolution_due]
    if ticket.first_responded_at is None:
        dues.append(ticket.first_response_due)
    dues = [due for due in dues if due is not None]
    if any(due < now for due in dues):
        return "breached"
    if any(due - warning_margin(ticket.created_at, due) <= now for due in dues):
        return "soon"
    return ""


# ---------------------------------------------------------------------------------------------
# The queue


def _tabs(user):
    """The queue's tabs for this user's roles: (key, label)."""
    tabs = []
    if roles.has_role(user, roles.SERVICE_AGENT, roles.SERVICE_SUPERVISOR, roles.ADMIN):
        tabs += [("mine", _("My tickets")), ("team", _("My team's")), ("unassigned", _("Unassigned"))]
    tabs += [("breaching", _("Breaching SLA")), ("all", _("All"))]
    return tabs


def _tab_queryset(queryset, tab, user, now):
    if tab == "mine":
        return queryset.filter(assignee=user)
    if tab == "team":
        my_teams = Team.members.through.objects.filter(user=user).values("team_id")
        teammates = Team.members.through.objects.filter(team__in=my_teams).values("user_id")
        return queryset.filter(Q(team__in=my_teams) | Q(assignee__in=teammates))
    if tab == "unassigned":
        return queryset.filter(assignee__isnull=True)
    if tab == "breaching":
        return queryset.breaching(now=now)
    return queryset


class TicketListView(FilterView):
    """The service queue: tabs by whose tickets, filters, search, sort by due time, counts per status."""

    filterset_class = TicketFilter
    template_name = "service/ticket_list.html"
    context_object_name = "tickets"
    paginate_by = PAGE_SIZE

    def get_queryset(self):
        user = self.request.user
        self.now = timezone.now()
        self.tabs = _tabs(user)
        keys = [key for key, _label in self.tabs]
        default = "mine" if roles.has_role(user, roles.SERVICE_AGENT) else "all"
        self.tab = self.request.GET.get("tab") if self.request.GET.get("tab") in keys else default
        visible = Ticket.objects.visible_to(user).select_related("customer", "assignee", "category__parent")
        return _tab_queryset(visible, self.tab, user, self.now)

    def get_template_names(self):
        if self.request.htmx and self.request.htmx.target == "ticket-results":
            return ["service/partials/ticket_results.html"]
        return [self.template_name]

    def status_counts(self) -> dict[str, int]:
        """Tickets per status under the same tab and filters, whatever status is picked (one query, capped)."""
        if not hasattr(self, "_status_counts"):
            filterset = self.filterset
            if not filterset.is_valid():
                # A bad status alone still shows the counts: filter again with any status.
                data = self.request.GET.copy()
                data["status"] = ANY
                filterset = TicketFilter(data, queryset=self.get_queryset(), request=self.request)
            self._status_counts = {}
            if filterset.is_valid():
                # The page's filters applied again, except the status (and the order, which counting ignores).
                queryset = filterset.queryset
                for name, value in filterset.form.cleaned_data.items():
                    if name not in ("status", "sort"):
                        queryset = filterset.filters[name].filter(queryset, value)
                # Breaching tickets are open by definition.
                statuses = OPEN_STATUSES if self.tab == "breaching" else None
                self._status_counts = status_counts(queryset, cap=self.count_cap(), statuses=statuses)
        return self._status_counts

    def count_cap(self) -> int:
        return SEARCH_COUNT_CAP if self.request.GET.get("q", "").strip() else COUNT_CAP

    def picked_statuses(self) -> list[str] | None:
        """The statuses the status filter lets through; None when the filters are invalid (no tickets shown)."""
        if not self.filterset.is_valid():
            return None
        picked = self.filterset.form.cleaned_data.get("status")
        if picked == OPEN:
            return OPEN_STATUSES
        if picked in (ANY, "", None):
            return list(Ticket.Status.values)
        return [picked]

    def get_paginator(self, queryset, per_page, **kwargs):
        # The number of tickets is the sum of the per-status counts the page shows anyway: no second COUNT.
        paginator = super().get_paginator(queryset, per_page, **kwargs)
        statuses = self.picked_statuses()
        if statuses is not None:
            counts = self.status_counts()
            cap = self.count_cap()
            paginator.count = sum(min(counts.get(code, 0), cap) for code in statuses)
            self.count_capped = any(counts.get(code, 0) > cap for code in statuses)
        return paginator

    def label_rows(self, tickets):
        """What each row shows, worked out once per page: `get_FOO_display` and `reverse` per row and field
        cost more than the queue's queries."""
        labels = {
            field: {value: str(label) for value, label in choices}
            for field, choices in (
                ("type", Ticket.Type.choices),
                ("channel", Ticket.Channel.choices),
                ("status", Ticket.Status.choices),
                ("priority", Ticket.Priority.choices),
            )
        }
        # One reverse() per URL pattern; the rows substitute their pk.
        ticket_url = reverse("service:ticket_detail", kwargs={"pk": 0}).removesuffix("0/")
        customer_url = reverse("customers:detail", kwargs={"pk": 0}).removesuffix("0/")
        for ticket in tickets:
            ticket.sla_state = sla_state(ticket, self.now)
            ticket.url = f"{ticket_url}{ticket.pk}/"
            ticket.customer_url = f"{customer_url}{ticket.customer_id}/"
            for field, names in labels.items():
                value = getattr(ticket, field)
                setattr(ticket, f"{field}_label", names.get(value, value))
            ticket.category_label = str(ticket.category) if ticket.category_id else ""
            assignee = ticket.assignee
            ticket.assignee_name = (assignee.get_full_name() or assignee.username) if assignee else ""

    def get_context_data(self, **kwargs):
        self.count_capped = False
        context = super().get_context_data(**kwargs)
        self.label_rows(context["tickets"])
        counts = self.status_counts()
        cap = self.count_cap()
        query = self.request.GET.copy()
        for key in ("page", "status"):
            query.pop(key, None)
        tab_query = self.request.GET.copy()
        for key in ("page", "tab"):
            tab_query.pop(key, None)
        page_query = self.request.GET.copy()
        page_query.pop("page", None)
        context.update(
            now=self.now,
            tab=self.tab,
            tabs=self.tabs,
            status_summary=[
                {
                    "code": code,
                    "label": label,
                    "count": min(counts.get(code, 0), cap),
                    "capped": counts.get(code, 0) > cap,
                }
                for code, label in Ticket.Status.choices
            ],
            open_total=sum(min(counts.get(code, 0), cap) for code in OPEN_STATUSES),
            count_capped=self.count_capped,
            status_query=query.urlencode(),
            tab_query=tab_query.urlencode(),
            querystring=page_query.urlencode(),
            can_create=can_work(self.request.user),
        )
        return context


# ---------------------------------------------------------------------------------------------
# Create


def ticket_create(request):
    """Open a ticket for a customer: first pick the customer (among those the user may see), then the form."""
    _require_worker(request.user)
    customer_id = request.GET.get("customer") or request.POST.get("customer")
    if not customer_id or not str(customer_id).isdigit():
        query = request.GET.get("q", "").strip()
        found = []
        if query:
            found = list(Customer.objects.visible_to(request.user).active().search(query).order_by("name")[:20])
        return render(request, "service/ticket_pick_customer.html", {"query": query, "found": found})
    customer = get_object_or_404(Customer.objects.visible_to(request.user), pk=customer_id)
    form = TicketCreateForm(request.POST or None, customer=customer, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.ticket_create(actor=request.user, customer=customer, **form.service_kwargs())
        except services.TicketError as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, _("Ticket %(number)s opened.") % {"number": ticket.number})
            return redirect(ticket)
    return render(request, "service/ticket_form.html", {"form": form, "customer": customer, "creating": True})


# ---------------------------------------------------------------------------------------------
# Detail and the in-place actions


def _visible_ticket(request, pk):
    queryset = Ticket.objects.visible_to(request.user).select_related(
        "customer",
        "contact",
        "order",
        "product",
        "assignee",
        "team",
        "category__parent",
        "sla_policy",
        "created_by",
    )
    return get_object_or_404(queryset, pk=pk)


def _describe(event: TicketEvent) -> str:
    """What an event says on the timeline, with codes turned into the labels people read."""
    kind = event.kind
    if kind == TicketEvent.Kind.STATUS:
        return _("Status: %(from)s → %(to)s") % {
            "from": _label(Ticket.Status, event.from_value),
            "to": _label(Ticket.Status, event.to_value),
        }
    if kind == TicketEvent.Kind.PRIORITY:
        return _("Priority: %(from)s → %(to)s") % {
            "from": _label(Ticket.Priority, event.from_value),
            "to": _label(Ticket.Priority, event.to_value),
        }
    if kind == TicketEvent.Kind.ASSIGNED:
        if not event.to_value:
            return _("Unassigned (was %(from)s)") % {"from": event.from_value or "—"}
        return _("Assigned to %(to)s") % {"to": event.to_value}
    if kind == TicketEvent.Kind.ESCALATED:
        return _("Escalated to level %(level)s: %(who)s") % {
            "level": event.to_value,
            "who": _label(Ticket.EscalationLevel, int(event.to_value) if event.to_value.isdigit() else -1),
        }
    if kind == TicketEvent.Kind.REPLY:
        return _("Reply to %(address)s") % {"address": event.to_value}
    if kind == TicketEvent.Kind.CREATED:
        return _("Ticket opened")
    return event.get_kind_display()


def _label(choices, value):
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value) or "—"


def _work_context(request, ticket, **extra):
    """Everything the ticket's work area shows: SLA clocks, timeline, the action forms."""
    now = timezone.now()
    events = list(ticket.events.select_related("actor").order_by("-created_at", "-pk"))
    for event in events:
        event.description = _describe(event)
    worker = can_work(request.user)
    staff = list(service_staff()) if worker else []
    clocks = [
        sla_clock(
            _("First response"), ticket.first_response_due, ticket.first_responded_at, now, is_open=ticket.is_open
        ),
        sla_clock(
            _("Resolution"),
            ticket.resolution_due,
            ticket.resolved_at or ticket.closed_at,
            now,
            is_open=ticket.is_open,
        ),
    ]
    assign_form = AssignForm(initial={"assignee": ticket.assignee_id, "team": ticket.team_id}, staff=None)
    assign_form.fields["assignee"].choices = [("", _("Unassigned"))] + [
        (user.pk, user.get_full_name() or user.username) for user in staff
    ]
    assign_form.fields["team"].choices = [("", "—")] + [(team.pk, team.name) for team in Team.objects.order_by("name")]
    context = {
        "ticket": ticket,
        "events": events,
        "clocks": [clock for clock in clocks if clock],
        "now": now,
        "can_work": worker,
        "next_statuses": [(code, Ticket.Status(code).label) for code in services.allowed_statuses(ticket)],
        "reply_form": ReplyForm(),
        "note_form": NoteForm(),
        "assign_form": assign_form,
        "priority_form": PriorityForm(initial={"priority": ticket.priority}),
        "reply_to": services.reply_address(ticket),
        "is_complaint": ticket.type == Ticket.Type.COMPLAINT,
        "sla_state": sla_state(ticket, now),
        "survey_responses": response_summaries(ticket.survey_responses.all()),
    }
    context.update(extra)
    return context


def ticket_detail(request, pk):
    """The ticket page: details, SLA clocks, timeline, reply and note forms, status and assignment."""
    ticket = _visible_ticket(request, pk)
    return render(request, "service/ticket_detail.html", _work_context(request, ticket))


def _after_action(request, ticket, *, notice="", error="", **forms):
    """htmx: the refreshed work area (with the notice or the error); plain post: a message and a redirect."""
    if request.htmx:
        ticket = _visible_ticket(request, ticket.pk)
        context = _work_context(request, ticket, notice=notice, error=error, **forms)
        return render(request, "service/partials/ticket_work.html", context, status=200)
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return HttpResponseRedirect(ticket.get_absolute_url())


def _action_ticket(request, pk):
    ticket = _visible_ticket(request, pk)
    _require_worker(request.user)
    return ticket


def _form_error(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@require_POST
def ticket_set_status(request, pk):
    ticket = _action_ticket(request, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _after_action(request, ticket, error=_form_error(form))
    try:
        services.ticket_set_status(
            ticket=ticket, actor=request.user, status=form.cleaned_data["status"], note=form.cleaned_data["note"]
        )
    except services.TicketError as refusal:
        return _after_action(request, ticket, error=str(refusal))
    return _after_action(request, ticket, notice=_("Status is now “%(s)s”.") % {"s": ticket.get_status_display()})


@require_POST
def ticket_assign(request, pk):
    ticket = _action_ticket(request, pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _after_action(request, ticket, error=_form_error(form))
    assignee = form.cleaned_data["assignee"]
    services.ticket_assign(ticket=ticket, actor=request.user, assignee=assignee, team=form.cleaned_data["team"])
    if assignee:
        notice = _("Assigned to %(name)s.") % {"name": assignee.get_full_name() or assignee.username}
    else:
        notice = _("The ticket is unassigned.")
    return _after_action(request, ticket, notice=notice)


@require_POST
def ticket_set_priority(request, pk):
    ticket = _action_ticket(request, pk)
    form = PriorityForm(request.POST)
    if not form.is_valid():
        return _after_action(request, ticket, error=_form_error(form))
    services.ticket_set_priority(ticket=ticket, actor=request.user, priority=form.cleaned_data["priority"])
    return _after_action(
        request,
        ticket,
        notice=_("Priority is now “%(p)s”; due times recomputed.") % {"p": ticket.get_priority_display()},
    )


@require_POST
def ticket_reply(request, pk):
    ticket = _action_ticket(request, pk)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _after_action(request, ticket, error=_form_error(form), reply_form=form)
    try:
        event = services.ticket_reply(ticket=ticket, actor=request.user, body=form.cleaned_data["body"])
    except services.TicketError as refusal:
        return _after_action(request, ticket, error=str(refusal), reply_form=form)
    if event.emailed_at is None:
        return _after_action(
            request, ticket, error=_("The reply is on the timeline but could not be emailed. Try again later.")
        )
    return _after_action(request, ticket, notice=_("Reply emailed to %(to)s.") % {"to": event.to_value})


@require_POST
def ticket_note(request, pk):
    ticket = _action_ticket(request, pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _after_action(request, ticket, error=_form_error(form), note_form=form)
    services.ticket_add_note(ticket=ticket, actor=request.user, body=form.cleaned_data["body"])
    return _after_action(request, ticket, notice=_("Note added."))


# ---------------------------------------------------------------------------------------------
# Edit


def ticket_update(request, pk):
    """Edit the ticket's fields and, for complaints, the complaint handling; conflicting saves are caught."""
    ticket = _action_ticket(request, pk)
    form = TicketUpdateForm(request.POST or None, instance=ticket, user=request.user)
    conflict = None
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.ticket_update(
                ticket=ticket,
                actor=request.user,
                data=form.service_data(),
                expected_version=form.cleaned_data["version"],
            )
        except services.ConflictError as clash:
            current = clash.current
            data = request.POST.copy()
            data["version"] = current.version
            form = TicketUpdateForm(data, instance=current, user=request.user)
            conflict = {"at": current.updated_at}
            status = 409
        except services.TicketError as refusal:
            form.add_error(None, str(refusal))
        else:
            if changed:
                messages.success(request, _("Ticket %(number)s saved.") % {"number": ticket.number})
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect(ticket)
    context = {"form": form, "ticket": ticket, "customer": ticket.customer, "conflict": conflict}
    return render(request, "service/ticket_form.html", context, status=status)


urlpatterns = [
    path("tickets/", TicketListView.as_view(), name="ticket_list"),
    path("tickets/create/", ticket_create, name="ticket_create"),
    path("tickets/<int:pk>/", ticket_detail, name="ticket_detail"),
    path("tickets/<int:pk>/update/", ticket_update, name="ticket_update"),
    path("tickets/<int:pk>/status/", ticket_set_status, name="ticket_set_status"),
    path("tickets/<int:pk>/assign/", ticket_assign, name="ticket_assign"),
    path("tickets/<int:pk>/reply/", ticket_reply, name="ticket_reply"),
    path("tickets/<int:pk>/note/", ticket_note, name="ticket_note"),
    path("tickets/<int:pk>/priority/", ticket_set_priority, name="ticket_set_priority"),
]
