"""Views of the sales app: opportunities (list, detail, create, edit, moves) and the kanban pipeline."""

import datetime
from decimal import Decimal
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum, Value
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber
from django.http import HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.generic import CreateView, DetailView, UpdateView
from django_filters.views import FilterView

from customers import roles
from customers import services as customer_services
from customers.export import csv_response, table_rows
from customers.forms import TaskForm
from customers.models import Customer, Interaction, Task

from ..filters.opportunities import OpportunityFilter, month_bounds, owners_choice_queryset, user_label
from ..forms.opportunities import LostForm, MoveForm, OpportunityForm, OpportunityLineFormSet
from ..models import SALES_ROLES, Opportunity, Order, Pipeline, StageChange
from ..services import opportunities as services

PAGE_SIZES = (25, 50, 100)
# The board shows open opportunities and those closed this recently; older ones are in the list.
RECENTLY_CLOSED_DAYS = 30
# Cards per column; the rest are behind a "N more" link to the filtered list.
CARDS_PER_STAGE = 25
TIMELINE_INTERACTIONS = 15
TASK_SOURCE = "opportunity"


def can_create_opportunities(user) -> bool:
    return roles.has_role(user, roles.ADMIN, *SALES_ROLES)


def _visible(request, pk, *related):
    return get_object_or_404(Opportunity.objects.visible_to(request.user).select_related(*related), pk=pk)


def _editable(request, pk, *related) -> Opportunity:
    """The opportunity if the user may change it: 404 when they cannot see it, 403 when read-only."""
    opportunity = _visible(request, pk, *related)
    if not Opportunity.objects.editable_by(request.user).filter(pk=opportunity.pk).exists():
        raise PermissionDenied(_("You can see this opportunity but not change it."))
    return opportunity


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def weighted_totals(queryset) -> dict:
    """Count, amount and weighted amount (amount × probability / 100) of `queryset`, in one query."""
    # Summing amount × probability and dividing once in Python keeps the maths exact in every
    # database (SQLite would divide integers).
    row = queryset.order_by().aggregate(
        n=Count("pk"), amount_sum=Sum("amount"), weighted_sum=Sum(F("amount") * F("probability"))
    )
    cent = Decimal("0.01")
    return {
        "count": row["n"] or 0,
        "amount": Decimal(row["amount_sum"] or 0).quantize(cent),
        "weighted": (Decimal(row["weighted_sum"] or 0) / 100).quantize(cent),
    }


# ---------------------------------------------------------------------------------------------
# List


class OpportunityListView(FilterView):
    filterset_class = OpportunityFilter
    template_name = "sales/opportunity_list.html"
    context_object_name = "opportunities"

    def get_paginate_by(self, queryset):
        size = self.request.GET.get("per_page", "")
        return int(size) if size.isdigit() and int(size) in PAGE_SIZES else PAGE_SIZES[0]

    def get_queryset(self):
        return Opportunity.objects.visible_to(self.request.user).select_related(
            "customer", "owner", "stage", "pipeline"
        )

    def get_paginator(self, queryset, per_page, **kwargs):
        paginator = super().get_paginator(queryset, per_page, **kwargs)
        # One aggregate gives the totals and the row count, instead of a second COUNT.
        self.totals = weighted_totals(queryset)
        paginator.count = self.totals["count"]
        return paginator

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            self.filterset = self.get_filterset(self.get_filterset_class())
            rows = self.filterset.qs if self.filterset.is_valid() else self.get_queryset().none()
            return export_csv(rows)
        return super().get(request, *args, **kwargs)

    def get_template_names(self):
        if self.request.htmx and self.request.htmx.target == "opportunity-results":
            return ["sales/partials/opportunity_results.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = self.request.GET.copy()
        for key in ("page", "export"):
            query.pop(key, None)
        context.update(
            totals=getattr(self, "totals", None) or weighted_totals(Opportunity.objects.none()),
            querystring=query.urlencode(),
            filtered=any(v for k, v in self.request.GET.items() if k not in {"page", "per_page", "sort"}),
            can_create=can_create_opportunities(self.request.user),
            page_sizes=PAGE_SIZES,
        )
        return context


def export_csv(queryset) -> StreamingHttpResponse:
    """The filtered opportunities as CSV."""
    columns = [
        (_("Name"), lambda o: o.name),
        (_("Customer"), lambda o: o.customer.name),
        (_("Pipeline"), lambda o: o.pipeline.name),
        (_("Stage"), lambda o: o.stage.name),
        (_("Amount"), lambda o: o.amount),
        (_("Probability (%)"), lambda o: o.probability),
        (_("Weighted amount"), lambda o: (o.amount * o.probability / 100).quantize(Decimal("0.01"))),
        (_("Expected close"), lambda o: o.expected_close.isoformat() if o.expected_close else ""),
        (_("Owner"), lambda o: o.owner.username if o.owner else ""),
        (_("Next step"), lambda o: o.next_step),
        (_("Competitor"), lambda o: o.competitor),
        (_("Lost reason"), lambda o: o.lost_reason),
    ]
    rows = queryset.select_related("customer", "owner", "stage", "pipeline").iterator(chunk_size=2000)
    return csv_response(table_rows(columns, rows), stem="opportunities")


# ---------------------------------------------------------------------------------------------
# Detail


def _timeline(request, opportunity) -> list[dict]:
    """Stage changes of the opportunity and the customer's recent interactions, newest first."""
    entries = [
        {"kind": "stage", "when": change.changed_at, "change": change}
        for change in StageChange.objects.filter(opportunity=opportunity).select_related(
            "from_stage", "to_stage", "changed_by"
        )
    ]
    interactions = Interaction.objects.visible_to(request.user).filter(customer_id=opportunity.customer_id)
    entries += [
        {"kind": "interaction", "when": interaction.occurred_at, "interaction": interaction}
        for interaction in interactions.select_related("actor")[:TIMELINE_INTERACTIONS]
    ]
    return sorted(entries, key=lambda entry: entry["when"], reverse=True)


def detail_context(request, opportunity, *, can_edit: bool, task_form=None, lost_form=None) -> dict:
    """Everything the opportunity page shows (a constant number of queries)."""
    lines = list(opportunity.lines.select_related("product"))
    for line in lines:
        line.total = (line.quantity * line.unit_price).quantize(Decimal("0.01"))
    stages = list(opportunity.pipeline.stages.all())
    if can_edit and task_form is None:
        task_form = TaskForm(
            user=request.user,
            customer=opportunity.customer,
            initial={"title": _("Follow up: %(name)s") % {"name": opportunity.name}},
        )
    return {
        "opportunity": opportunity,
        "lines": lines,
        "lines_total": sum((line.total for line in lines), Decimal(0)),
        "stages": stages,
        "timeline": _timeline(request, opportunity),
        "tasks": list(
            Task.objects.visible_to(request.user)
            .filter(customer_id=opportunity.customer_id, done=False)
            .select_related("owner")
        ),
        "today": timezone.localdate(),
        "orders": list(Order.objects.visible_to(request.user).filter(opportunity=opportunity).order_by("pk")),
        "can_edit": can_edit,
        "can_see_customer": Customer.objects.visible_to(request.user).filter(pk=opportunity.customer_id).exists(),
        "task_form": task_form if can_edit else None,
        "lost_form": (lost_form or LostForm()) if can_edit else None,
        "has_won_stage": any(stage.is_won for stage in stages),
        "has_lost_stage": any(stage.is_lost for stage in stages),
    }


class OpportunityDetailView(DetailView):
    template_name = "sales/opportunity_detail.html"
    context_object_name = "opportunity"

    def get_queryset(self):
        return Opportunity.objects.visible_to(self.request.user).select_related(
            "customer", "contact", "owner", "stage", "pipeline", "created_by"
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        can_edit = Opportunity.objects.editable_by(self.request.user).filter(pk=self.object.pk).exists()
        context.update(detail_context(self.request, self.object, can_edit=can_edit))
        return context


# ---------------------------------------------------------------------------------------------
# Create and edit


class _OpportunityFormMixin:
    form_class = OpportunityForm
    template_name = "sales/opportunity_form.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "customer": getattr(self, "customer", None)}

    def get_formset(self):
        instance = self.object if getattr(self, "object", None) else Opportunity()
        return OpportunityLineFormSet(self.request.POST or None, instance=instance, prefix="lines")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("formset", self.get_formset())
        context["customer_suggestions"] = context["form"].customer_suggestions()
        return context

    def post(self, request, *args, **kwargs):
        self.object = self.get_object() if self.kwargs.get("pk") else None
        form = self.get_form()
        formset = self.get_formset()
        if form.is_valid() and formset.is_valid():
            return self.form_valid_with_lines(form, formset)
        return self.render_to_response(self.get_context_data(form=form, formset=formset), status=400)


class OpportunityCreateView(_OpportunityFormMixin, CreateView):
    def dispatch(self, request, *args, **kwargs):
        if not can_create_opportunities(request.user):
            raise PermissionDenied(_("Your role cannot create opportunities."))
        customer_id = request.GET.get("customer", "")
        self.customer = None
        if customer_id.isdigit():
            self.customer = Customer.objects.visible_to(request.user).filter(pk=int(customer_id)).first()
        return super().dispatch(request, *args, **kwargs)

    def form_valid_with_lines(self, form, formset):
        data = form.service_data()
        try:
            opportunity = services.opportunity_create(
                actor=self.request.user, stage=form.cleaned_data["stage"], lines=formset.drafts(), **data
            )
        except services.MoveRefused as refusal:
            form.add_error("stage", str(refusal))
            return self.render_to_response(self.get_context_data(form=form, formset=formset), status=400)
        messages.success(self.request, _("Opportunity “%(name)s” created.") % {"name": opportunity.name})
        return HttpResponseRedirect(opportunity.get_absolute_url())


class OpportunityUpdateView(_OpportunityFormMixin, UpdateView):
    context_object_name = "opportunity"

    def get_object(self, queryset=None):
        return _editable(self.request, self.kwargs["pk"], "customer", "owner", "stage", "pipeline")

    def form_valid_with_lines(self, form, formset):
        try:
            with transaction.atomic():
                changed = services.opportunity_update(
                    opportunity=self.object,
                    actor=self.request.user,
                    data=form.service_data(),
                    expected_version=form.cleaned_data["version"],
                    lines=formset.drafts(),
                )
        except services.OpportunityConflict as conflict:
            return self.render_conflict(form, formset, conflict.current)
        if changed:
            messages.success(self.request, _("Changes to “%(name)s” saved.") % {"name": self.object.name})
        else:
            messages.info(self.request, _("Nothing was changed."))
        return HttpResponseRedirect(self.object.get_absolute_url())

    def render_conflict(self, form, formset, current):
        """Show the form again with the user's values and the other person's saved values beside the
        fields that differ; saving again (with the new version) overwrites knowingly."""
        data = form.data.copy()
        data["version"] = current.version
        differences = []
        for name in OpportunityForm.Meta.fields:
            theirs = getattr(current, name)
            mine = form.cleaned_data.get(name)
            if (getattr(theirs, "pk", theirs) or None) != (getattr(mine, "pk", mine) or None):
                differences.append(
                    {
                        "label": form.fields[name].label,
                        "theirs": user_label(theirs) if name == "owner" and theirs else theirs,
                    }
                )
        if current.customer_id != form.cleaned_data["customer"].pk:
            differences.append({"label": form.fields["customer_lookup"].label, "theirs": current.customer.name})
        merged = OpportunityForm(data=data, instance=current, user=self.request.user)
        merged.is_valid()
        context = self.get_context_data(form=merged, formset=formset, conflict={"differences": differences})
        return self.render_to_response(context, status=409)


# ---------------------------------------------------------------------------------------------
# Actions


def _after_action(request, opportunity, *, notice: str, level=messages.SUCCESS, order=None):
    """Answer a move: the refreshed board for the kanban's htmx posts, a redirect otherwise."""
    board_path = _safe_next(request, opportunity.get_absolute_url())
    if request.htmx and request.POST.get("board") == "1":
        query = QueryDict(urlsplit(board_path).query)
        context = board_context(request.user, query)
        context["notice"] = {
            "text": notice,
            "level": "danger" if level == messages.ERROR else "success",
            "order": order,
        }
        context["board_path"] = board_path
        return render(request, "sales/partials/pipeline_board.html", context)
    messages.add_message(request, level, notice)
    return redirect(board_path)


@require_POST
def opportunity_move(request, pk):
    """Move an opportunity to another stage of its pipeline: won makes the order draft, lost needs a reason."""
    opportunity = _editable(request, pk, "pipeline", "customer")
    form = MoveForm(request.POST, opportunity=opportunity)
    if not form.is_valid():
        return _after_action(request, opportunity, notice=_("Choose a stage of this pipeline."), level=messages.ERROR)
    stage = form.cleaned_data["stage"]
    reason = form.cleaned_data["lost_reason"].strip()
    if stage.is_lost and not reason and not request.htmx:
        # Without JavaScript the lost reason is asked on its own page.
        url = reverse("sales:opportunity_mark_lost", args=[opportunity.pk])
        return redirect(f"{url}?{urlencode({'stage': stage.pk, 'next': _safe_next(request, '')})}")
    order = None
    try:
        if stage.is_won:
            order = services.opportunity_mark_won(opportunity=opportunity, actor=request.user, stage=stage)
        elif stage.is_lost:
            services.opportunity_mark_lost(opportunity=opportunity, actor=request.user, reason=reason, stage=stage)
        else:
            services.opportunity_move(opportunity=opportunity, stage=stage, actor=request.user)
    except services.MoveRefused as refusal:
        return _after_action(request, opportunity, notice=str(refusal), level=messages.ERROR)
    if order is not None:
        notice = _("“%(name)s” won: order draft %(number)s.") % {"name": opportunity.name, "number": order.number}
    else:
        notice = _("“%(name)s” moved to %(stage)s.") % {"name": opportunity.name, "stage": stage.name}
    return _after_action(request, opportunity, notice=notice, order=order)


@require_POST
def opportunity_mark_won(request, pk):
    """Mark won: move to the won stage and make the order draft (once)."""
    opportunity = _editable(request, pk, "pipeline", "customer")
    try:
        order = services.opportunity_mark_won(opportunity=opportunity, actor=request.user)
    except services.MoveRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(opportunity)
    messages.success(
        request, _("“%(name)s” won: order draft %(number)s.") % {"name": opportunity.name, "number": order.number}
    )
    return redirect(_safe_next(request, opportunity.get_absolute_url()))


def opportunity_mark_lost(request, pk):
    """GET asks for the lost reason; POST marks the opportunity lost with it."""
    opportunity = _editable(request, pk, "pipeline", "customer")
    stages = {stage.pk: stage for stage in opportunity.pipeline.stages.filter(is_lost=True)}
    stage_id = request.POST.get("stage") or request.GET.get("stage") or ""
    stage = stages.get(int(stage_id)) if stage_id.isdigit() else None
    form = LostForm(request.POST or None, initial={"reason": opportunity.lost_reason})
    if request.method == "POST" and form.is_valid():
        try:
            services.opportunity_mark_lost(
                opportunity=opportunity, actor=request.user, reason=form.cleaned_data["reason"], stage=stage
            )
        except services.MoveRefused as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, _("“%(name)s” marked lost.") % {"name": opportunity.name})
        return redirect(_safe_next(request, opportunity.get_absolute_url()))
    context = {"opportunity": opportunity, "form": form, "stage": stage, "next": _safe_next(request, "")}
    return render(request, "sales/opportunity_lost.html", context, status=400 if form.errors else 200)


@require_POST
def opportunity_task_create(request, pk):
    """Plan a follow-up task on the opportunity's customer (source "opportunity")."""
    opportunity = _editable(request, pk, "customer", "contact", "owner", "stage", "pipeline", "created_by")
    form = TaskForm(request.POST, user=request.user, customer=opportunity.customer)
    if form.is_valid():
        customer_services.task_create(
            customer=opportunity.customer, created_by=request.user, source=TASK_SOURCE, **form.cleaned_data
        )
        messages.success(request, _("Follow-up planned."))
        return redirect(opportunity)
    context = detail_context(request, opportunity, can_edit=True, task_form=form)
    return render(request, "sales/opportunity_detail.html", context, status=400)


# ---------------------------------------------------------------------------------------------
# Kanban


def board_context(user, params: QueryDict) -> dict:
    """The kanban of one pipeline for `user`: columns with count, amount and the first cards.

    A constant number of queries whatever the number of cards: pipelines, stages, owners, one
    GROUP BY for the column totals and one windowed query for the capped cards."""
    pipelines = list(Pipeline.objects.filter(active=True))
    chosen_id = params.get("pipeline", "")
    pipeline = next((p for p in pipelines if chosen_id.isdigit() and p.pk == int(chosen_id)), None)
    pipeline = pipeline or next((p for p in pipelines if p.is_default), None) or (pipelines[0] if pipelines else None)
    context = {"pipelines": pipelines, "pipeline": pipeline, "columns": [], "filters": {}}
    if pipeline is None:
        return context
    stages = list(pipeline.stages.all())
    open_ids = [stage.pk for stage in stages if not stage.is_closed]
    since = timezone.now() - datetime.timedelta(days=RECENTLY_CLOSED_DAYS)
    visible = Opportunity.objects.visible_to(user).filter(pipeline=pipeline)
    board = visible.filter(Q(stage_id__in=open_ids) | Q(closed_at__gte=since))
    owner_id = params.get("owner", "")
    if owner_id.isdigit():
        board = board.filter(owner_id=int(owner_id))
    month = params.get("month", "")
    bounds = month_bounds(month)
    if bounds:
        board = board.filter(expected_close__range=bounds)
    totals = {
        row["stage_id"]: row
        for row in board.order_by().values("stage_id").annotate(n=Count("pk"), amount_sum=Sum("amount"))
    }
    can_move = roles.has_role(user, roles.ADMIN, *SALES_ROLES)
    editable = Exists(Opportunity.objects.editable_by(user).filter(pk=OuterRef("pk"))) if can_move else Value(False)
    rank = Window(
        RowNumber(), partition_by=[F("stage_id")], order_by=[F("expected_close").asc(nulls_last=True), F("pk").asc()]
    )
    cards = (
        board.select_related("customer", "owner")
        .only(
            "name",
            "amount",
            "expected_close",
            "stage_id",
            "pipeline_id",
            "closed_at",
            "customer__name",
            "owner__username",
            "owner__first_name",
            "owner__last_name",
        )
        .annotate(rank=rank, editable=editable)
        .filter(rank__lte=CARDS_PER_STAGE)
        .order_by("stage_id", "rank")
    )
    by_stage: dict[int, list] = {}
    for card in cards:
        by_stage.setdefault(card.stage_id, []).append(card)
    list_query = {"pipeline": pipeline.pk}
    if owner_id.isdigit():
        list_query["owner"] = owner_id
    if bounds:
        list_query["month"] = month
    today = timezone.localdate()
    for stage in stages:
        row = totals.get(stage.pk, {})
        stage_cards = by_stage.get(stage.pk, [])
        count = row.get("n", 0)
        context["columns"].append(
            {
                "stage": stage,
                "count": count,
                "amount": row.get("amount_sum") or Decimal(0),
                "cards": stage_cards,
                "more": count - len(stage_cards),
                "more_url": reverse("sales:opportunity_list") + "?" + urlencode({**list_query, "stage": stage.pk}),
            }
        )
    context.update(
        stages=stages,
        today=today,
        can_move=can_move,
        board_count=sum(column["count"] for column in context["columns"]),
        board_amount=sum((column["amount"] for column in context["columns"]), Decimal(0)),
        owners=[(u.pk, user_label(u)) for u in owners_choice_queryset(visible)],
        filters={"owner": owner_id if owner_id.isdigit() else "", "month": month if bounds else ""},
        recently_closed_days=RECENTLY_CLOSED_DAYS,
    )
    return context


def pipeline(request):
    """The kanban board: one column per stage of the chosen pipeline."""
    context = board_context(request.user, request.GET)
    context["board_path"] = request.get_full_path()
    if request.htmx and request.htmx.target == "pipeline-board":
        return render(request, "sales/partials/pipeline_board.html", context)
    return render(request, "sales/pipeline.html", context)


urlpatterns = [
    path("opportunities/", OpportunityListView.as_view(), name="opportunity_list"),
    path("opportunities/create/", OpportunityCreateView.as_view(), name="opportunity_create"),
    path("opportunities/<int:pk>/", OpportunityDetailView.as_view(), name="opportunity_detail"),
    path("opportunities/<int:pk>/update/", OpportunityUpdateView.as_view(), name="opportunity_update"),
    path("opportunities/<int:pk>/move/", opportunity_move, name="opportunity_move"),
    path("opportunities/<int:pk>/mark-won/", opportunity_mark_won, name="opportunity_mark_won"),
    path("opportunities/<int:pk>/mark-lost/", opportunity_mark_lost, name="opportunity_mark_lost"),
    path("opportunities/<int:pk>/tasks/create/", opportunity_task_create, name="opportunity_task_create"),
    path("pipeline/", pipeline, name="pipeline"),
]
