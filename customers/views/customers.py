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

    def get_paginator(self, queryset, per_page, **kwargs):
        paginator = super().get_paginator(queryset, per_page, **kwargs)
        # One GROUP BY gives both the tier badges and the total, instead of a second COUNT.
        self.tier_totals = tier_counts(queryset)
        paginator.count = sum(self.tier_totals.values())
        return paginator

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
        query = self.request.GET.copy()
        for key in ("page", "export"):
            query.pop(key, None)
        counts = getattr(self, "tier_totals", {})
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
            can_edit=can_edit(self.request.user, customer),
            panels=panels.panels_for(self.request, customer),
            action_templates=panels.action_templates(),
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
        expected = form.cleaned_data["version"]
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
        """Show the form again, merged three ways: the other person's changes are taken in where
        this user left a field alone; where both changed a field, this user's value stays in the
        form and both values are listed. Nothing is saved until the user saves again."""
        base = current.history.filter(version=form.cleaned_data.get("version")).order_by("-history_id").first()
        data = form.data.copy()
        data["version"] = current.version
        taken, clashing = [], []
        for name in [*form.Meta.fields, "referred_by"]:
            field = Customer._meta.get_field(name)
            theirs = _comparable(getattr(current, field.attname))
            mine = _comparable(form.cleaned_data.get(name))
            before = _comparable(getattr(base, field.attname)) if base else None
            if base is not None and theirs == before:
                continue
            label = form.fields["referred_by_lookup" if name == "referred_by" else name].label
            if base is not None and mine == before:
                _put(data, name, getattr(current, name))
                taken.append({"label": label, "theirs": _shown(form, name, getattr(current, name))})
            elif mine != theirs:
                clashing.append(
                    {
                        "label": label,
                        "theirs": _shown(form, name, getattr(current, name)),
                        "mine": _shown(form, name, form.cleaned_data.get(name)),
                    }
                )
        last = current.history.select_related("history_user").first()
        merged_form = self.get_form_class()(data=data, files=form.files, instance=current, user=self.request.user)
        merged_form.is_valid()
        conflict = {
            "by": last.history_user if last else None,
            "at": last.history_date if last else current.updated_at,
            "taken": taken,
            "clashing": clashing,
        }
        return self.render_to_response(self.get_context_data(form=merged_form, conflict=conflict), status=409)


def _comparable(value):
    """A field value reduced for comparison: objects to their id, blanks to None."""
    value = getattr(value, "pk", value)
    return None if value in (None, "") else value


def _put(data, name, value):
    """Write a model value into submitted form data as the form's widget would have sent it."""
    if name == "referred_by":
        data["referred_by_lookup"] = (value.external_ref or value.name) if value else ""
    elif isinstance(value, bool):
        if value:
            data[name] = "on"
        else:
            data.pop(name, None)
    elif value is None:
        data[name] = ""
    else:
        data[name] = str(getattr(value, "pk", value))


def _shown(form, name, value):
    """A value as the user reads it: choice labels instead of codes, blanks as a dash."""
    if value in (None, ""):
        return "—"
    field = form.fields.get(name)
    if field is not None and getattr(field, "choices", None) is not None and not hasattr(field, "queryset"):
        return dict(field.choices).get(value, value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
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
