"""Views of the sales app: products and orders (list, detail, create and edit with lines, status, export)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.generic import CreateView, DetailView, UpdateView
from django_filters.views import FilterView

from customers import roles
from customers.export import csv_response, table_rows, xlsx_response
from customers.models import Customer
from customers.permissions import can_edit

from .. import order_sections
from ..filters.orders import OrderFilter, ProductFilter
from ..forms.orders import OrderForm, OrderLineFormSet, ProductForm
from ..models import SALES_ROLES, Opportunity, Order, Product
from ..services import orders as order_services
from ..services import products as product_services
from .order_imports import can_import_orders

PAGE_SIZES = (25, 50, 100)


def _page_size(request):
    size = request.GET.get("per_page", "")
    return int(size) if size.isdigit() and int(size) in PAGE_SIZES else PAGE_SIZES[0]


def _querystring(request):
    query = request.GET.copy()
    for key in ("page", "export"):
        query.pop(key, None)
    return query.urlencode()


# ---------------------------------------------------------------------------------------------
# Products


class ProductReaderMixin:
    """The catalogue is for people who sell or oversee selling (see services.products)."""

    def dispatch(self, request, *args, **kwargs):
        if not product_services.can_read_products(request.user):
            raise PermissionDenied(_("Your role does not use the product catalogue."))
        return super().dispatch(request, *args, **kwargs)


class ProductEditorMixin:
    def dispatch(self, request, *args, **kwargs):
        if not product_services.can_edit_products(request.user):
            raise PermissionDenied(_("Only admins and sales managers change products."))
        return super().dispatch(request, *args, **kwargs)


class ProductListView(ProductReaderMixin, FilterView):
    filterset_class = ProductFilter
    template_name = "sales/product_list.html"
    context_object_name = "products"

    def get_queryset(self):
        return Product.objects.all()

    def get_paginate_by(self, queryset):
        return _page_size(self.request)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            **kwargs,
            querystring=_querystring(self.request),
            page_sizes=PAGE_SIZES,
            can_edit_products=product_services.can_edit_products(self.request.user),
        )


class ProductDetailView(ProductReaderMixin, DetailView):
    model = Product
    template_name = "sales/product_detail.html"
    context_object_name = "product"

    def get_context_data(self, **kwargs):
        product = self.object
        user = self.request.user
        return super().get_context_data(
            **kwargs,
            sales=product_services.product_sales(product=product, orders=Order.objects.visible_to(user)),
            margin=(product.unit_price - product.unit_cost) / product.unit_price * 100 if product.unit_price else None,
            sees_all_orders=roles.has_role(user, roles.ADMIN, roles.MANAGER),
            can_edit_products=product_services.can_edit_products(user),
        )


class ProductCreateView(ProductEditorMixin, CreateView):
    form_class = ProductForm
    template_name = "sales/product_form.html"

    def form_valid(self, form):
        product = product_services.product_save(product=Product(), actor=self.request.user, data=form.cleaned_data)
        messages.success(self.request, _("Product “%(name)s” created.") % {"name": product.name})
        return HttpResponseRedirect(product.get_absolute_url())


class ProductUpdateView(ProductEditorMixin, UpdateView):
    model = Product
    form_class = ProductForm
    template_name = "sales/product_form.html"

    def form_valid(self, form):
        product = product_services.product_save(product=self.object, actor=self.request.user, data=form.cleaned_data)
        messages.success(self.request, _("Changes to “%(name)s” saved.") % {"name": product.name})
        return HttpResponseRedirect(product.get_absolute_url())


# ---------------------------------------------------------------------------------------------
# Orders: list and export


def can_create_orders(user) -> bool:
    return roles.has_role(user, roles.ADMIN, *SALES_ROLES)


class OrderListView(FilterView):
    filterset_class = OrderFilter
    template_name = "sales/order_list.html"
    context_object_name = "orders"

    def get_queryset(self):
        return Order.objects.visible_to(self.request.user).select_related("customer", "owner")

    def get_paginate_by(self, queryset):
        return _page_size(self.request)

    def get_paginator(self, queryset, per_page, **kwargs):
        paginator = super().get_paginator(queryset, per_page, **kwargs)
        # One pass over the filtered orders gives the count and the totals (cancelled orders listed but
        # not summed, as in every analysis); the stored order totals mean no line is read.
        counted = ~Q(status=Order.Status.CANCELLED)
        totals = queryset.order_by().aggregate(
            count=Count("*"), amount=Sum("amount", filter=counted), cost=Sum("cost", filter=counted)
        )
        amount, cost = totals["amount"] or 0, totals["cost"] or 0
        self.totals = {
            "amount": amount,
            "cost": cost,
            "gross_profit": amount - cost,
            "margin": (amount - cost) / amount * 100 if amount else None,
        }
        paginator.count = totals["count"]
        return paginator

    def get(self, request, *args, **kwargs):
        export_format = request.GET.get("export")
        if export_format in {"csv", "xlsx"}:
            self.filterset = self.get_filterset(self.get_filterset_class())
            rows = self.filterset.qs if self.filterset.is_valid() else self.get_queryset().none()
            return export_csv(rows) if export_format == "csv" else export_xlsx(rows)
        return super().get(request, *args, **kwargs)

    def get_template_names(self):
        if self.request.htmx and self.request.htmx.target == "order-results":
            return ["sales/partials/order_results.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        customer_id = self.filterset.form.cleaned_data.get("customer") if self.filterset.is_valid() else None
        customer = None
        if customer_id:
            customer = Customer.objects.visible_to(self.request.user).filter(pk=customer_id).only("name").first()
        context = super().get_context_data(**kwargs)
        context.update(
            totals=getattr(self, "totals", None),  # set while paginating, inside super()
            customer=customer,
            querystring=_querystring(self.request),
            page_sizes=PAGE_SIZES,
            can_create=can_create_orders(self.request.user),
            can_import=can_import_orders(self.request.user),
            filtered=any(
                self.request.GET.get(key)
                for key in ("q", "customer_q", "customer", "status", "owner", "date_from", "date_to")
            ),
        )
        return context


def _export_columns():
    def stamp(value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    return [
        (_("Order number"), lambda o: o.number),
        (_("External reference"), lambda o: o.order_ref or ""),
        (_("Order date"), lambda o: o.ordered_at.isoformat()),
        (_("Status"), lambda o: o.get_status_display()),
        (_("Customer"), lambda o: o.customer.name),
        (_("Customer reference"), lambda o: o.customer.external_ref or ""),
        (_("Owner"), lambda o: o.owner.username if o.owner else ""),
        (_("Amount"), lambda o: o.amount),
        (_("Cost"), lambda o: o.cost),
        (_("Gross profit"), lambda o: o.amount - o.cost),
        (_("Confirmed"), lambda o: stamp(o.confirmed_at)),
        (_("Delivered"), lambda o: stamp(o.delivered_at)),
        (_("Cancelled"), lambda o: stamp(o.cancelled_at)),
    ]


def _export_rows(queryset):
    return table_rows(_export_columns(), queryset.select_related("customer", "owner").iterator(chunk_size=2000))


def export_csv(queryset) -> StreamingHttpResponse:
    """Stream the orders as CSV."""
    return csv_response(_export_rows(queryset), stem="orders")


def export_xlsx(queryset) -> HttpResponse:
    """The orders as an Excel workbook."""
    return xlsx_response(_export_rows(queryset), stem="orders", sheet_title=Order._meta.verbose_name_plural)


# ---------------------------------------------------------------------------------------------
# Orders: detail, create, edit, status


def _status_history(order):
    """The order's status steps as far as its timestamps record them, oldest first."""
    steps = [(_("Created"), order.created_at, order.created_by)]
    for label, when in (
        (_("Confirmed"), order.confirmed_at),
        (_("Delivered"), order.delivered_at),
        (_("Cancelled"), order.cancelled_at),
    ):
        if when:
            steps.append((label, when, None))
    return [{"label": label, "when": when, "by": by} for label, when, by in sorted(steps, key=lambda s: s[1])]


def _with_profit(line):
    line.profit = line.amount - line.cost
    return line


def _editable(user, order) -> bool:
    return Order.objects.editable_by(user).filter(pk=order.pk).exists()


class OrderDetailView(DetailView):
    template_name = "sales/order_detail.html"
    context_object_name = "order"

    def get_queryset(self):
        return Order.objects.visible_to(self.request.user).select_related("customer", "owner", "created_by")

    def get_context_data(self, **kwargs):
        order = self.object
        user = self.request.user
        editable = _editable(user, order)
        opportunity = None
        if order.opportunity_id:
            opportunity = Opportunity.objects.visible_to(user).filter(pk=order.opportunity_id).first()
        return super().get_context_data(
            **kwargs,
            lines=[_with_profit(line) for line in order.lines.select_related("product")],
            margin=order.gross_profit / order.amount * 100 if order.amount else None,
            history=_status_history(order),
            opportunity=opportunity,
            sections=order_sections.sections_for(self.request, order),
            can_edit=editable and order.status == Order.Status.DRAFT,
            next_statuses=[
                {"value": s, "label": Order.Status(s).label}
                for s in (order_services.allowed_statuses(order) if editable else ())
            ],
        )


def _line_initial(order):
    """The formset's starting rows: one per line; a description that merely repeats the product's name is left out."""
    rows = []
    for line in order.lines.select_related("product"):
        rows.append(
            {
                "line_id": line.pk,
                "product": line.product_id,
                "description": "" if line.product and line.description == line.product.name else line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                # Not a field: the page shows the cost the line keeps while its product stays.
                "unit_cost": line.unit_cost,
            }
        )
    return rows


def _render_order_form(request, *, form, formset, order=None, customer=None, conflict=None, status=200):
    return render(
        request,
        "sales/order_form.html",
        {"form": form, "formset": formset, "order": order, "customer": customer, "conflict": conflict},
        status=status,
    )


def order_create(request):
    """New order, for the customer given as ?customer=<id> or looked up by name/reference."""
    user = request.user
    if not can_create_orders(user):
        raise PermissionDenied(_("Your role cannot create orders."))
    customer = None
    if request.GET.get("customer", "").isdigit():
        customer = get_object_or_404(Customer.objects.visible_to(user), pk=request.GET["customer"])
        if not can_edit(user, customer):
            raise PermissionDenied(_("You can see this customer but not sell to it."))
    if request.method == "POST":
        form = OrderForm(request.POST, user=user, customer=customer)
        formset = OrderLineFormSet(request.POST, prefix="lines")
        if form.is_valid() and formset.is_valid():
            data = form.service_data()
            order = order_services.order_create(
                customer=form.customer,
                owner=data["owner"],
                lines=formset.drafts(),
                actor=user,
                ordered_at=data["ordered_at"],
                notes=data["notes"],
            )
            messages.success(request, _("Order %(number)s created as a draft.") % {"number": order.number})
            return redirect(order)
        return _render_order_form(request, form=form, formset=formset, customer=customer, status=400)
    default_owner = customer.owner if customer and customer.owner else user
    form = OrderForm(
        user=user,
        customer=customer,
        initial={"ordered_at": timezone.localdate(), "owner": default_owner.pk},
    )
    return _render_order_form(request, form=form, formset=OrderLineFormSet(prefix="lines"), customer=customer)


def _editable_order(request, pk):
    order = get_object_or_404(Order.objects.visible_to(request.user).select_related("customer", "owner"), pk=pk)
    if not _editable(request.user, order):
        raise PermissionDenied(_("You can see this order but not change it."))
    return order


def order_update(request, pk):
    """Edit a draft order's header and lines; other statuses only change status (on the detail page)."""
    order = _editable_order(request, pk)
    user = request.user
    if order.status != Order.Status.DRAFT:
        messages.warning(request, _("Only draft orders can be edited; change the status instead."))
        return redirect(order)
    if request.method == "POST":
        form = OrderForm(request.POST, user=user, customer=order.customer, order=order)
        formset = OrderLineFormSet(request.POST, prefix="lines", order=order)
        if form.is_valid() and formset.is_valid():
            data = form.service_data()
            try:
                order_services.order_update(
                    order=order,
                    actor=user,
                    expected_version=form.cleaned_data["version"],
                    lines=formset.drafts(),
                    **data,
                )
            except order_services.OrderConflictError as conflict:
                return _render_conflict(request, form, formset, order, conflict.current)
            except order_services.OrderStateError as refusal:
                messages.error(request, str(refusal))
                return redirect(order)
            messages.success(request, _("Order %(number)s saved.") % {"number": order.number})
            return redirect(order)
        return _render_order_form(request, form=form, formset=formset, order=order, customer=order.customer, status=400)
    form = OrderForm(
        user=user,
        customer=order.customer,
        order=order,
        initial={
            "version": order.version,
            "owner": order.owner_id,
            "ordered_at": order.ordered_at,
            "notes": order.notes,
        },
    )
    formset = OrderLineFormSet(prefix="lines", order=order, initial=_line_initial(order))
    return _render_order_form(request, form=form, formset=formset, order=order, customer=order.customer)


def _render_conflict(request, form, formset, order, current):
    """Someone saved the order meanwhile: keep this user's input, show what is saved now, and take the
    current version so that saving again knowingly replaces it."""
    data = form.data.copy()
    data["version"] = current.version
    merged = OrderForm(data, user=request.user, customer=order.customer, order=current)
    merged.is_valid()
    conflict = {"current": current, "lines": list(current.lines.select_related("product"))}
    return _render_order_form(
        request, form=merged, formset=formset, order=current, customer=order.customer, conflict=conflict, status=409
    )


def order_set_status(request, pk):
    """GET asks for confirmation (linked from "Cancel order"); POST moves the order to `status`."""
    order = _editable_order(request, pk)
    status = request.POST.get("status") if request.method == "POST" else request.GET.get("status")
    if status not in order_services.allowed_statuses(order):
        if request.method == "POST":
            messages.error(request, _("This order cannot take that status now."))
        return redirect(order)
    if request.method != "POST":
        return render(
            request,
            "sales/order_confirm_status.html",
            {"order": order, "status": status, "label": Order.Status(status).label},
        )
    expected = request.POST.get("version", "")
    try:
        order = order_services.order_set_status(
            order=order, actor=request.user, status=status, expected_version=int(expected) if expected.isdigit() else -1
        )
    except order_services.OrderConflictError:
        messages.error(request, _("Someone changed this order while you were looking at it; check it and try again."))
        return redirect(order)
    except order_services.OrderStateError as refusal:
        messages.error(request, str(refusal))
        return redirect(order)
    messages.success(
        request,
        _("Order %(number)s is now %(status)s.") % {"number": order.number, "status": order.get_status_display()},
    )
    return redirect(order)


urlpatterns = [
    path("products/", ProductListView.as_view(), name="product_list"),
    path("products/create/", ProductCreateView.as_view(), name="product_create"),
    path("products/<int:pk>/", ProductDetailView.as_view(), name="product_detail"),
    path("products/<int:pk>/update/", ProductUpdateView.as_view(), name="product_update"),
    path("orders/", OrderListView.as_view(), name="order_list"),
    path("orders/create/", order_create, name="order_create"),
    path("orders/<int:pk>/", OrderDetailView.as_view(), name="order_detail"),
    path("orders/<int:pk>/update/", order_update, name="order_update"),
    path("orders/<int:pk>/status/", order_set_status, name="order_set_status"),
]
