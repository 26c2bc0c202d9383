"""Views of the sales app: leads (list, export, create, edit, screen, assign, convert, disqualify) and the
public lead-capture form (wired in `sales/public_urls.py`)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.generic import CreateView, DetailView, UpdateView
from django_filters.views import FilterView

from customers import roles
from customers.export import csv_response, table_rows, xlsx_response

from ..filters.leads import LeadFilter
from ..forms.leads import (
    AssignForm,
    BulkAssignForm,
    ConvertForm,
    DisqualifyForm,
    LeadForm,
    PublicLeadForm,
    ScreeningForm,
    active_criteria,
)
from ..models import Lead
from ..services import leads as services

PAGE_SIZES = (25, 50, 100)
# Web-form submissions allowed per client address in the window (seconds); settings may override.
CAPTURE_RATE_LIMIT = getattr(settings, "LEAD_CAPTURE_RATE_LIMIT", (5, 600))


def can_create_leads(user) -> bool:
    return roles.has_role(user, roles.ADMIN, roles.SALES_REP, roles.SALES_MANAGER)


def can_edit_lead(user, lead) -> bool:
    """Admins, the owner and the owner's sales manager (and, for unassigned leads, sales managers)."""
    cached = lead.__dict__.setdefault("_editable_by", {})
    if user.pk not in cached:
        cached[user.pk] = Lead.objects.editable_by(user).filter(pk=lead.pk).exists()
    return cached[user.pk]


def _visible_lead(request, pk, *related):
    return get_object_or_404(Lead.objects.visible_to(request.user).select_related(*related), pk=pk)


def _editable_lead(request, pk, *related):
    """The lead if the user may change it: 404 when they cannot see it, 403 when they only may look."""
    lead = _visible_lead(request, pk, *related)
    if not can_edit_lead(request.user, lead):
        raise PermissionDenied(_("You can see this lead but not change it."))
    return lead


def _closed_redirect(request, lead):
    messages.info(
        request,
        _("This lead is %(status)s and can no longer be changed.") % {"status": lead.get_status_display().lower()},
    )
    return redirect(lead)


# ---------------------------------------------------------------------------------------------
# List and export


class LeadListView(FilterView):
    filterset_class = LeadFilter
    template_name = "sales/lead_list.html"
    context_object_name = "leads"

    def get_paginate_by(self, queryset):
        size = self.request.GET.get("per_page", "")
        return int(size) if size.isdigit() and int(size) in PAGE_SIZES else PAGE_SIZES[0]

    def get_queryset(self):
        return Lead.objects.visible_to(self.request.user).select_related("owner", "referred_by")

    def get_paginator(self, queryset, per_page, **kwargs):
        paginator = super().get_paginator(queryset, per_page, **kwargs)
        # One GROUP BY over the list without its status filter gives the badges and the total.
        self.status_totals = {}
        status = None
        # An unbound filter (no query string) lists everything; a bound one only when valid.
        if not self.filterset.is_bound or self.filterset.is_valid():
            data = self.request.GET.copy()
            data.pop("status", None)
            unfiltered = LeadFilter(data or None, queryset=self.get_queryset(), request=self.request).qs
            rows = unfiltered.order_by().values("status").annotate(n=Count("*"))
            self.status_totals = {row["status"]: row["n"] for row in rows}
            if self.filterset.is_bound:
                status = self.filterset.form.cleaned_data.get("status")
        paginator.count = self.status_totals.get(status, 0) if status else sum(self.status_totals.values())
        return paginator

    def get_template_names(self):
        if self.request.htmx and self.request.htmx.target == "lead-results":
            return ["sales/partials/lead_results.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        query = self.request.GET.copy()
        query.pop("page", None)
        status_query = query.copy()
        status_query.pop("status", None)
        totals = getattr(self, "status_totals", {})
        current_status = self.request.GET.get("status", "")
        context.update(
            status_summary=[
                {"code": code, "label": label, "count": totals.get(code, 0), "active": code == current_status}
                for code, label in Lead.Status.choices
            ],
            status_querystring=status_query.urlencode(),
            querystring=query.urlencode(),
            can_create=can_create_leads(user),
            can_assign=services.can_assign(user),
            assign_choices=[("", _("Nobody (unassigned)"))]
            + [(rep.pk, rep.get_full_name() or rep.username) for rep in services.assignable_reps(user)]
            if services.can_assign(user)
            else [],
            page_sizes=PAGE_SIZES,
            has_filters=any(self.request.GET.get(key) for key in self.filterset.form.fields),
        )
        return context


def _export_columns():
    def when(value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    return [
        (_("Contact name"), lambda lead: lead.name),
        (_("Company"), lambda lead: lead.company),
        (_("Job title"), lambda lead: lead.job_title),
        (_("Phone"), lambda lead: lead.phone),
        (_("Email"), lambda lead: lead.email),
        (_("Region"), lambda lead: lead.region),
        (_("Source"), lambda lead: lead.get_source_display()),
        (_("Referred by"), lambda lead: lead.referred_by.name if lead.referred_by else ""),
        (_("Status"), lambda lead: lead.get_status_display()),
        (_("Score"), lambda lead: lead.score),
        (_("Owner"), lambda lead: lead.owner.username if lead.owner else ""),
        (_("From the web form"), lambda lead: _("yes") if lead.from_web_form else ""),
        (_("Marketing consent"), lambda lead: _("yes") if lead.marketing_consent else ""),
        (_("Created"), lambda lead: when(lead.created_at)),
        (_("Converted at"), lambda lead: when(lead.converted_at)),
        (_("Customer"), lambda lead: lead.customer.name if lead.customer else ""),
        (_("Reason for disqualifying"), lambda lead: lead.disqualify_reason),
    ]


def _export_rows(queryset):
    # Lead data comes from strangers through the web form: table_rows() neutralises every cell.
    leads = queryset.select_related("owner", "referred_by", "customer").iterator(chunk_size=2000)
    return table_rows(_export_columns(), leads)


def lead_export(request):
    """The filtered lead list as CSV (default) or Excel (`?format=xlsx`)."""
    filterset = LeadFilter(request.GET, queryset=Lead.objects.visible_to(request.user), request=request)
    rows = filterset.qs if filterset.is_valid() else Lead.objects.none()
    if request.GET.get("format") == "xlsx":
        return xlsx_response(_export_rows(rows), stem="leads", sheet_title=Lead._meta.verbose_name_plural)
    return csv_response(_export_rows(rows), stem="leads")


# ---------------------------------------------------------------------------------------------
# One lead


def _checklist(lead):
    """Each active criterion with whether the lead meets it: the reasons behind the score."""
    met = set(lead.criteria_met.values_list("pk", flat=True))
    return [{"criterion": criterion, "met": criterion.pk in met} for criterion in active_criteria()]


class LeadDetailView(DetailView):
    template_name = "sales/lead_detail.html"
    context_object_name = "lead"

    def get_queryset(self):
        return Lead.objects.visible_to(self.request.user).select_related(
            "owner", "referred_by", "customer", "contact", "opportunity", "created_by"
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        lead, user = self.object, self.request.user
        checklist = _checklist(lead)
        can_edit = lead.is_open and can_edit_lead(user, lead)
        context.update(
            checklist=checklist,
            met_count=sum(1 for item in checklist if item["met"]),
            can_edit=can_edit,
            can_assign=can_edit and services.can_assign(user),
            assign_form=AssignForm(user=user, initial={"owner": lead.owner_id}) if can_edit else None,
            screening_form=ScreeningForm(
                initial={"version": lead.version, "criteria": [i["criterion"].pk for i in checklist if i["met"]]}
            )
            if can_edit
            else None,
        )
        return context


class LeadCreateView(CreateView):
    form_class = LeadForm
    template_name = "sales/lead_form.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not can_create_leads(request.user):
            raise PermissionDenied(_("Your role cannot create leads."))
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        lead = services.lead_create(
            actor=self.request.user, data=form.service_data(), criteria=form.cleaned_data["criteria"]
        )
        messages.success(self.request, _("Lead “%(lead)s” created.") % {"lead": lead})
        return HttpResponseRedirect(lead.get_absolute_url())


class LeadUpdateView(UpdateView):
    form_class = LeadForm
    template_name = "sales/lead_form.html"
    context_object_name = "lead"

    def get_object(self, queryset=None):
        return _editable_lead(self.request, self.kwargs["pk"], "referred_by", "owner")

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            lead = self.get_object()
            if not lead.is_open:
                return _closed_redirect(request, lead)
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def form_valid(self, form):
        # The form wrote the posted values onto self.object; the service reads the saved row afresh.
        lead = Lead.objects.get(pk=self.object.pk)
        try:
            changed = services.lead_update(
                lead=lead,
                actor=self.request.user,
                data=form.service_data(),
                expected_version=form.cleaned_data["version"],
                criteria=form.cleaned_data["criteria"],
            )
        except services.LeadClosedError:
            return _closed_redirect(self.request, lead)
        except services.LeadConflictError as conflict:
            return self.render_conflict(form, conflict.current)
        if changed:
            messages.success(self.request, _("Changes to “%(lead)s” saved.") % {"lead": lead})
        else:
            messages.info(self.request, _("Nothing was changed."))
        return HttpResponseRedirect(lead.get_absolute_url())

    def render_conflict(self, form, current):
        """Show the form again with this user's values and the saved ones beside them; saving again
        (now against the current version) keeps what is in the form."""
        differences = []
        for name in [*LeadForm.Meta.fields, "referred_by"]:
            theirs = getattr(current, name)
            mine = form.cleaned_data.get(name)
            if _comparable(theirs) != _comparable(mine):
                label = form.fields["referred_by_lookup" if name == "referred_by" else name].label
                differences.append({"label": label, "theirs": _shown(current, name), "mine": _shown_value(mine)})
        if {c.pk for c in form.cleaned_data["criteria"]} != set(current.criteria_met.values_list("pk", flat=True)):
            differences.append({"label": form.fields["criteria"].label, "theirs": "…", "mine": "…"})
        data = form.data.copy()
        data["version"] = current.version
        merged = LeadForm(data=data, instance=current, user=self.request.user)
        merged.is_valid()
        context = self.get_context_data(form=merged, conflict={"at": current.updated_at, "differences": differences})
        return self.render_to_response(context, status=409)


def _comparable(value):
    value = getattr(value, "pk", value)
    return None if value in (None, "") else value


def _shown(lead, name):
    display = getattr(lead, f"get_{name}_display", None)
    return display() if display else _shown_value(getattr(lead, name))


def _shown_value(value):
    if value in (None, ""):
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if hasattr(value, "get_full_name"):
        return value.get_full_name() or value.username
    return str(value)


@require_POST
def lead_screen(request, pk):
    """Tick the screening checklist on the lead's page; the score follows."""
    lead = _editable_lead(request, pk)
    if not lead.is_open:
        return _closed_redirect(request, lead)
    form = ScreeningForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The checklist could not be read; please try again."))
        return redirect(lead)
    try:
        services.lead_screen(
            lead=lead,
            actor=request.user,
            criteria=form.cleaned_data["criteria"],
            expected_version=form.cleaned_data["version"],
        )
    except services.LeadClosedError:
        return _closed_redirect(request, lead)
    except services.LeadConflictError:
        messages.warning(request, _("Someone else changed this lead meanwhile; check the checklist and save again."))
        return redirect(lead)
    lead.refresh_from_db()
    messages.success(request, _("Screening saved: score %(score)s.") % {"score": lead.score})
    return redirect(lead)


def _require_assigner(request):
    if not services.can_assign(request.user):
        raise PermissionDenied(_("Only sales managers and admins assign leads."))


def lead_assign(request, pk):
    """GET shows the choice of rep; POST gives the lead to them (sales managers and admins)."""
    lead = _editable_lead(request, pk, "owner")
    _require_assigner(request)
    if not lead.is_open:
        return _closed_redirect(request, lead)
    form = AssignForm(request.POST or None, user=request.user, initial={"owner": lead.owner_id})
    if request.method == "POST" and form.is_valid():
        owner = form.cleaned_data["owner"]
        services.lead_assign(leads=[lead], owner=owner, actor=request.user)
        if owner:
            messages.success(request, _("Lead assigned to %(name)s.") % {"name": _shown_value(owner)})
        else:
            messages.success(request, _("Lead left unassigned."))
        return redirect(lead)
    return render(request, "sales/lead_assign.html", {"lead": lead, "form": form})


@require_POST
def lead_bulk_assign(request):
    """Give the ticked leads of the list to one rep. Nothing changes unless every lead is one the user
    may assign: an id they cannot see is a 404, one they only may look at a 403."""
    _require_assigner(request)
    ids = {value for value in request.POST.getlist("leads") if value.isdigit()}
    if len(ids) != len(request.POST.getlist("leads")) or not ids:
        messages.error(request, _("Tick at least one lead."))
        return redirect("sales:lead_list")
    if Lead.objects.visible_to(request.user).filter(pk__in=ids).count() != len(ids):
        raise Http404
    editable = Lead.objects.editable_by(request.user)
    if editable.filter(pk__in=ids).count() != len(ids):
        raise PermissionDenied(_("Some of these leads are not yours to assign."))
    form = BulkAssignForm(request.POST, user=request.user, leads=editable)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    else:
        owner = form.cleaned_data["owner"]
        moved = services.lead_assign(leads=form.cleaned_data["leads"], owner=owner, actor=request.user)
        who = _shown_value(owner) if owner else _("nobody (unassigned)")
        messages.success(request, _("%(n)s leads assigned to %(who)s.") % {"n": moved, "who": who})
    next_url = request.POST.get("next", "")
    if next_url.startswith(reverse("sales:lead_list")):
        return redirect(next_url)
    return redirect("sales:lead_list")


def _after_conversion(lead):
    return lead.opportunity.get_absolute_url() if lead.opportunity_id else lead.customer.get_absolute_url()


def lead_convert(request, pk):
    """GET offers the matching customers and the opportunity; POST converts in one step. A lead already
    converted sends the user to what it became, whatever was posted."""
    lead = _editable_lead(request, pk, "owner", "referred_by")
    if lead.status == Lead.Status.CONVERTED and lead.customer_id:
        messages.info(request, _("This lead was converted already."))
        return HttpResponseRedirect(_after_conversion(lead))
    if not lead.is_open:
        return _closed_redirect(request, lead)
    matches = services.matching_customers(lead=lead, user=request.user)
    form = ConvertForm(request.POST or None, lead=lead, matches=matches)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        draft = None
        if data["create_opportunity"]:
            draft = services.OpportunityDraft(
                name=data["opportunity_name"].strip(), amount=data["amount"] or 0, expected_close=data["expected_close"]
            )
        try:
            lead = services.lead_convert(
                lead=lead, actor=request.user, customer=form.chosen_customer(), opportunity=draft
            )
        except services.LeadClosedError:
            return _closed_redirect(request, lead)
        except ValueError as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, _("Lead converted into “%(name)s”.") % {"name": lead.customer.name})
            return HttpResponseRedirect(_after_conversion(lead))
    return render(request, "sales/lead_convert.html", {"lead": lead, "form": form, "matches": matches})


def lead_disqualify(request, pk):
    """GET asks for the reason; POST closes the lead with it."""
    lead = _editable_lead(request, pk)
    if not lead.is_open:
        return _closed_redirect(request, lead)
    form = DisqualifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.lead_disqualify(lead=lead, actor=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, _("Lead disqualified."))
        return redirect(lead)
    return render(request, "sales/lead_disqualify.html", {"lead": lead, "form": form})


# ---------------------------------------------------------------------------------------------
# The public lead-capture form


def _client_address(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client writes unless a trusted proxy sets it.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _over_capture_limit(request) -> bool:
    """Count one submission from this address; True once it is past the limit for the window."""
    limit, window = CAPTURE_RATE_LIMIT
    key = f"lead-capture:{_client_address(request)}"
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        count = 1
    return count > limit


@login_not_required
def lead_capture_form(request):
    """The form a company links from its website. Spam gets nowhere: a filled honeypot is thanked and
    dropped, and an address sending too many gets a 429."""
    if request.method == "POST":
        if _over_capture_limit(request):
            minutes = max(1, CAPTURE_RATE_LIMIT[1] // 60)
            return render(request, "sales/public/lead_rate_limited.html", {"minutes": minutes}, status=429)
        form = PublicLeadForm(request.POST)
        if form.is_spam:
            return redirect("lead_capture:thanks")
        if form.is_valid():
            services.lead_capture(data=form.lead_data())
            return redirect("lead_capture:thanks")
    else:
        form = PublicLeadForm()
    return render(request, "sales/public/lead_form.html", {"form": form})


@login_not_required
def lead_capture_thanks(request):
    return render(request, "sales/public/lead_thanks.html")


urlpatterns = [
    path("leads/", LeadListView.as_view(), name="lead_list"),
    path("leads/export/", lead_export, name="lead_export"),
    path("leads/create/", LeadCreateView.as_view(), name="lead_create"),
    path("leads/bulk-assign/", lead_bulk_assign, name="lead_bulk_assign"),
    path("leads/<int:pk>/", LeadDetailView.as_view(), name="lead_detail"),
    path("leads/<int:pk>/update/", LeadUpdateView.as_view(), name="lead_update"),
    path("leads/<int:pk>/screen/", lead_screen, name="lead_screen"),
    path("leads/<int:pk>/assign/", lead_assign, name="lead_assign"),
    path("leads/<int:pk>/convert/", lead_convert, name="lead_convert"),
    path("leads/<int:pk>/disqualify/", lead_disqualify, name="lead_disqualify"),
]
