"""The home dashboard, global search and the jobs page."""

from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import home_cards, roles
from ..models import Contact, Customer, Interaction, JobRun, Task

SEARCH_LIMIT = 10


def home(request):
    """What needs the user's attention today, by role."""
    user = request.user
    today = timezone.localdate()
    my_tasks = Task.objects.filter(owner=user)
    visible = Customer.objects.visible_to(user).filter(archived=False)
    context = {
        "today": today,
        "overdue_count": my_tasks.overdue(today=today).count(),
        "due_today_count": my_tasks.due_today(today=today).count(),
        "upcoming_tasks": list(my_tasks.open().select_related("customer").order_by("due_date", "pk")[:8]),
        "recent_interactions": list(
            Interaction.objects.visible_to(user).filter(actor=user).select_related("customer")[:8]
        ),
        "recent_customers": list(visible.select_related("owner").order_by("-updated_at")[:8]),
        "customer_count": visible.count(),
        "my_customer_count": visible.filter(owner=user).count()
        if roles.has_role(user, roles.SALES_REP, roles.SALES_MANAGER)
        else None,
        "show_jobs": roles.has_role(user, roles.ADMIN, roles.MANAGER),
        "app_cards": home_cards.cards_for(request),
    }
    if context["show_jobs"]:
        context["last_runs"] = last_runs()
    return render(request, "customers/home.html", context)


def search(request):
    """Customers and contacts by name, phone or email (live results for the top bar via htmx)."""
    text = request.GET.get("q", "").strip()
    customers, contacts = [], []
    # One Chinese character (a surname) is already a useful query; one Latin letter is not.
    searched = len(text) >= 2 or (len(text) == 1 and not text.isascii())
    if searched:
        visible = Customer.objects.visible_to(request.user)
        customers = list(visible.search(text).filter(archived=False).select_related("owner")[:SEARCH_LIMIT])
        contacts = list(
            Contact.objects.visible_to(request.user)
            .filter(customer__archived=False)
            .filter(name__icontains=text)
            .select_related("customer")[:SEARCH_LIMIT]
        )
    template = "customers/partials/search_results.html" if request.htmx else "customers/search.html"
    return render(request, template, {"q": text, "searched": searched, "customers": customers, "contacts": contacts})


def last_runs():
    """The latest run of every job that has run (two queries)."""
    latest = JobRun.objects.values("job").annotate(last=Max("pk")).values_list("last", flat=True)
    return list(JobRun.objects.filter(pk__in=list(latest)).order_by("job"))


def job_runs(request):
    """Each background job's last run and the recent history of runs (admins and managers)."""
    if not roles.has_role(request.user, roles.ADMIN, roles.MANAGER):
        raise PermissionDenied(_("Only admins and managers see the job runs."))
    return render(
        request,
        "customers/job_runs.html",
        {"last_runs": last_runs(), "recent_runs": list(JobRun.objects.all()[:50])},
    )
