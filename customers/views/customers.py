"""Customer list, 360 page, create, edit, archive and restore."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.generic import CreateView, DetailView, UpdateView
from django_filters.views import FilterView

from .. import export, panels, services
from ..filters import CustomerFilter, tier_counts
from ..forms import CustomerForm
from ..models import Customer, Tag
from ..permissions import can_create_customers, can_edit

PAGE_SIZES = (25, 50, 100)


class CustomerListView(FilterView):
    filterset_class = CustomerFilter
    template_name = "customers/customer_list.html"
    context_object_name = "customers"

    def get_paginate_by(self, queryset):
        size = self.request.GET.get("per_page", "")
        return int(size) if size.isdigit() and int(size) in PAGE_SIZES else PAGE_SIZES[0]

    def get_queryset(self):
        return (
            Customer.objects.visible_to(self.request.user)
            .select_related("owner")
            .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
        )

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        export_format = request.GET.get("export")
        if export_format in {"csv", "xlsx"}:
            rows = self.filterset.qs if self.filterset.is_valid() else self.get_queryset().none()
            return export.export_csv(rows) if export_format == "csv" else export.export_xlsx(rows)
        return response

    def get_template_names(self):
        if self.request.htmx and self.request.htmx.target == "customer-results":
            return ["customers/partials/customer_results.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filtered = self.filterset.qs if self.filterset.is_valid() else Customer.objects.none()
        query = self.request.GET.copy()
        for key in ("page", "export"):
            query.pop(key, None)
        counts = tier_counts(filtered)
        context.update(
            tier_summary=[
                {"code": code, "label": label, "count": counts[code]}
                for code, label in Customer.Tier.choices
                if counts.get(code)
            ],
            querystring=query.urlencode(),
            can_create=can_create_customers(self.request.user),
            can_import=self.request.user.has_perm("customers.import_customers"),
            page_sizes=PAGE_SIZES,
        )
        return context


class CustomerDetailView(DetailView):
    template_name = "customers/customer_detail.html"
    context_object_name = "customer"

    def get_queryset(self):
        return (
            Customer.objects.visible_to(self.request.user)
            .select_related("owner", "referred_by", "merged_into", "created_by")
            .prefetch_related("tags")
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = self.object
        context.update(
            can_edit=can_edit(self.request.user, customer), panels=panels.panels_for(self.request, customer)
        )
        return context


class CustomerCreateView(CreateView):
    form_class = CustomerForm
    template_name = "customers/customer_form.html"

    def dispatch(self, request, *args, **kwargs):
        if not can_create_customers(request.user):
            raise PermissionDenied(_("Your role cannot create customers."))
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        customer = services.customer_create(
            actor=self.request.user, data=form.service_data(), tags=form.cleaned_data["tags"]
        )
        messages.success(self.request, _("Customer “%(name)s” created.") % {"name": customer.name})
        return HttpResponseRedirect(customer.get_absolute_url())


class CustomerUpdateView(UpdateView):
    form_class = CustomerForm
    template_name = "customers/customer_form.html"
    context_object_name = "customer"

    def get_queryset(self):
        return Customer.objects.visible_to(self.request.user).select_related("referred_by", "owner")

    def get_object(self, queryset=None):
        customer = super().get_object(queryset)
        if not can_edit(self.request.user, customer):
            raise PermissionDenied(_("You can see this customer but not change it."))
        return customer

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        expected = form.cleaned_data.get("version") or self.object.version
        try:
            changed = services.customer_update(
                customer=self.object,
                actor=self.request.user,
                data=form.service_data(),
                expected_version=expected,
                tags=form.cleaned_data["tags"],
            )
        except services.ConflictError as conflict:
            return self.render_conflict(form, conflict.current)
        if changed:
            messages.success(self.request, _("Changes to “%(name)s” saved.") % {"name": self.object.name})
        else:
            messages.info(self.request, _("Nothing was changed."))
        return HttpResponseRedirect(self.object.get_absolute_url())

    def render_conflict(self, form, current):
        """Show the form again with this user's values and what the other person saved."""
        last = current.history.select_related("history_user").first()
        differences = []
        for name in form.service_data():
            field = form.fields.get(name)
            if field is None or not hasattr(current, name):
                continue
            theirs = getattr(current, name)
            mine = form.cleaned_data.get(name)
            if (theirs or None) != (mine or None):
                differences.append(
                    {"label": field.label, "theirs": _shown(field, theirs), "mine": _shown(field, mine)}
                )
        data = form.data.copy()
        data["version"] = current.version
        fresh_form = self.get_form_class()(data=data, files=form.files, instance=current, user=self.request.user)
        fresh_form.is_valid()
        return self.render_to_response(
            self.get_context_data(
                form=fresh_form,
                conflict={
                    "by": last.history_user if last else None,
                    "at": last.history_date if last else current.updated_at,
                    "differences": differences,
                },
            ),
            status=409,
        )


def _shown(field, value):
    """A value as the user reads it: choice labels instead of codes, blanks as a dash."""
    if value in (None, ""):
        return "—"
    choices = getattr(field, "choices", None)
    if choices is not None and not hasattr(field, "queryset"):
        return dict(choices).get(value, value)
    return value


def _editable_customer(request, pk):
    customer = get_object_or_404(Customer.objects.visible_to(request.user), pk=pk)
    if not can_edit(request.user, customer):
        raise PermissionDenied(_("You can see this customer but not change it."))
    return customer


def customer_archive(request, pk):
    """GET asks for confirmation; POST archives."""
    customer = _editable_customer(request, pk)
    if request.method == "POST":
        services.customer_archive(customer=customer, actor=request.user)
        messages.success(
            request, _("“%(name)s” archived. You can restore it from the archived list.") % {"name": customer.name}
        )
        return redirect(customer)
    return render(request, "customers/customer_confirm_archive.html", {"customer": customer})


@require_POST
def customer_restore(request, pk):
    customer = _editable_customer(request, pk)
    try:
        services.customer_restore(customer=customer, actor=request.user)
    except ValueError as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("“%(name)s” restored.") % {"name": customer.name})
    return redirect(reverse("customers:detail", args=[customer.pk]))
