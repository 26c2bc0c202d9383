"""The customer pool: browse, claim, assign (also in bulk) and release customers."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import F, Max, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_filters.views import FilterView

from customers.models import Customer

from ..forms.pool import PoolAssignForm, PoolFilter, PoolReleaseForm
from ..models import Order, PoolMove
from ..services import pool as services

PAGE_SIZE = 25
REGIONS_CACHE_SECONDS = 300
HISTORY_LIMIT = 50


def _require_pool_role(user):
    if not services.can_use_pool(user):
        raise Http404


POOL_FIELDS = ("pool_since", "pool_action", "pool_reason", "previous_owner_id", "last_order", "total_spend")


def _pool_expressions():
    last_move = PoolMove.objects.filter(customer=OuterRef("pk")).order_by("-moved_at", "-pk")
    orders = Order.objects.counted().filter(customer=OuterRef("pk")).order_by().values("customer")
    return {
        "pool_since": Coalesce(Subquery(last_move.values("moved_at")[:1]), F("created_at")),
        "pool_action": Subquery(last_move.values("action")[:1]),
        "pool_reason": Subquery(last_move.values("reason")[:1]),
        "previous_owner_id": Subquery(last_move.values("from_owner")[:1]),
        "last_order": Subquery(orders.annotate(last=Max("ordered_at")).values("last")),
        "total_spend": Subquery(orders.annotate(total=Sum("amount")).values("total")),
    }


def annotate_pool(queryset):
    """Add when and why each customer came to the pool (its last move), the previous owner's id,
    the last order date and the total spend: correlated subqueries, one query for any number of rows."""
    return queryset.annotate(**_pool_expressions())


def alias_pool(queryset):
    """The same values for sorting only: the database computes one for every pool customer only
    when the list is sorted by it (the page's rows get them all from `attach_pool_data`)."""
    return queryset.alias(**_pool_expressions())


def attach_pool_data(customers: list) -> None:
    """Set the pool values and the previous owner on the customers of one page (two queries)."""
    rows = annotate_pool(Customer.objects.filter(pk__in=[c.pk for c in customers])).values("pk", *POOL_FIELDS)
    data = {row["pk"]: row for row in rows}
    previous = _users_by_id(row["previous_owner_id"] for row in data.values())
    for customer in customers:
        for name in POOL_FIELDS:
            setattr(customer, name, data.get(customer.pk, {}).get(name))
        customer.previous_owner = previous.get(customer.previous_owner_id)
        customer.pool_action_label = PoolMove.Action(customer.pool_action).label if customer.pool_action else ""


def _users_by_id(ids):
    ids = {i for i in ids if i}
    return {u.pk: u for u in get_user_model().objects.filter(pk__in=ids)} if ids else {}


class PoolListView(FilterView):
    filterset_class = PoolFilter
    template_name = "sales/pool_list.html"
    context_object_name = "customers"
    paginate_by = PAGE_SIZE

    def dispatch(self, request, *args, **kwargs):
        _require_pool_role(request.user)
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        # Name order follows an index, so only the page's rows get their pool data computed.
        return alias_pool(services.pool_customers(self.request.user)).order_by("name", "pk")

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        pool = services.pool_customers(self.request.user).exclude(region="").order_by()
        # A scan of the pool: cached a few minutes, new regions can wait that long to be offered.
        kwargs["regions"] = cache.get_or_set(
            "pool-filter-regions", lambda: list(pool.values_list("region", flat=True).distinct()), REGIONS_CACHE_SECONDS
        )
        return kwargs

    def get_template_names(self):
        if self.request.htmx and self.request.htmx.target == "pool-results":
            return ["sales/partials/pool_results.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(context["customers"])
        attach_pool_data(rows)
        query = self.request.GET.copy()
        query.pop("page", None)
        user = self.request.user
        can_assign = services.can_assign(user)
        context.update(
            customers=rows,
            querystring=query.urlencode(),
            can_claim=services.can_claim(user),
            can_assign=can_assign,
            assign_form=PoolAssignForm(reps=services.assignable_reps(user)) if can_assign else None,
            claim_limit=services.rule().claim_limit,
            owned_count=services.owned_count(user),
            has_filters=any(self.request.GET.get(k) for k in ("q", "region", "industry", "tier", "in_pool")),
        )
        return context


def pool_detail(request, pk):
    """One customer's basic data and pool history: what a rep reads before claiming."""
    _require_pool_role(request.user)
    scope = services.pool_customers(request.user) | Customer.objects.visible_to(request.user)
    customer = get_object_or_404(annotate_pool(scope.filter(archived=False)).select_related("owner"), pk=pk)
    moves = list(
        PoolMove.objects.filter(customer=customer).select_related("from_owner", "to_owner", "actor")[:HISTORY_LIMIT]
    )
    return render(
        request,
        "sales/pool_detail.html",
        {
            "customer": customer,
            "moves": moves,
            "in_pool": customer.owner_id is None,
            "can_claim": services.can_claim(request.user),
            "can_open": customer.owner_id is not None
            and Customer.objects.visible_to(request.user).filter(pk=pk).exists(),
            "can_release": customer.owner_id is not None
            and Customer.objects.editable_by(request.user).filter(pk=pk).exists(),
            "release_form": PoolReleaseForm(),
        },
    )


@require_POST
def pool_claim(request, pk):
    """The rep takes a pool customer for themself, within the claim limit."""
    if not services.can_claim(request.user):
        raise Http404
    # Customers that are or were in the pool: a stale page gets a clear answer, other ids a 404.
    customer = get_object_or_404(
        services.pool_customers(request.user)
        | Customer.objects.filter(archived=False, pk__in=PoolMove.objects.values("customer")),
        pk=pk,
    )
    if customer.owner_id == request.user.pk:
        messages.info(request, _("You already own “%(name)s”.") % {"name": customer.name})
        return redirect("customers:detail", pk=customer.pk)
    try:
        services.pool_claim(customer_id=customer.pk, actor=request.user)
    except services.PoolError as refusal:
        messages.error(request, str(refusal))
        return redirect("sales:pool")
    messages.success(request, _("“%(name)s” is now your customer.") % {"name": customer.name})
    return redirect("customers:detail", pk=customer.pk)


@require_POST
def pool_assign(request):
    """A sales manager (their teams' reps) or an admin (anyone in sales) hands ticked pool customers to a rep."""
    user = request.user
    if not services.can_assign(user):
        raise Http404
    form = PoolAssignForm(request.POST, reps=services.assignable_reps(user))
    back = reverse("sales:pool") + (f"?{request.POST['querystring']}" if request.POST.get("querystring") else "")
    if not form.is_valid():
        messages.error(request, _("Tick at least one customer and choose a rep."))
        return redirect(back)
    ids = form.cleaned_data["customers"]
    # Only customers of the pool this user sees; a guessed id of an owned customer is simply not assigned.
    ids = list(services.pool_customers(user).filter(pk__in=ids).values_list("pk", flat=True))
    if not ids and len(form.cleaned_data["customers"]) == 1:
        raise Http404
    rep = form.cleaned_data["rep"]
    try:
        assigned = services.pool_assign(customer_ids=ids, rep=rep, actor=user, reason=form.cleaned_data["reason"])
    except services.PoolError as refusal:
        messages.error(request, str(refusal))
        return redirect(back)
    missed = len(form.cleaned_data["customers"]) - len(assigned)
    name = rep.get_full_name() or rep.username
    messages.success(request, _("%(count)s customers assigned to %(rep)s.") % {"count": len(assigned), "rep": name})
    if missed:
        messages.warning(request, _("%(count)s were no longer in the pool and were left out.") % {"count": missed})
    return redirect(back)


def pool_release(request, pk):
    """GET asks why; POST puts the customer back in the pool (its owner, their sales manager or an admin)."""
    customer = get_object_or_404(Customer.objects.editable_by(request.user).filter(archived=False), pk=pk)
    if customer.owner_id is None:
        messages.info(request, _("“%(name)s” is already in the pool.") % {"name": customer.name})
        return redirect("sales:pool_detail", pk=customer.pk)
    form = PoolReleaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.pool_release(customer=customer, actor=request.user, reason=form.cleaned_data["reason"])
        except services.PoolError as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, _("“%(name)s” went back to the pool.") % {"name": customer.name})
            return redirect("sales:pool_detail", pk=customer.pk)
    return render(request, "sales/pool_release.html", {"customer": customer, "form": form})


urlpatterns = [
    path("pool/", PoolListView.as_view(), name="pool"),
    path("pool/assign/", pool_assign, name="pool_assign"),
    path("pool/<int:pk>/", pool_detail, name="pool_detail"),
    path("pool/<int:pk>/claim/", pool_claim, name="pool_claim"),
    path("pool/<int:pk>/release/", pool_release, name="pool_release"),
]
