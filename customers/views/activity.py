"""Contacts, interactions and tasks, logged in place on the customer page (htmx) or as plain forms."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.generic import ListView

from .. import panel_context, services
from ..forms import ContactForm, InteractionForm, TaskForm
from ..models import Contact, Customer, Task
from ..permissions import can_log_activity


def _customer_for_activity(request, pk):
    customer = get_object_or_404(Customer.objects.visible_to(request.user), pk=pk)
    if not can_log_activity(request.user, customer):
        raise PermissionDenied(_("Your role cannot log activity for this customer."))
    return customer


def _in_place(request, customer, form, *, save, panel, template, form_key, saved, page):
    """Shared flow of the forms logged from a 360 panel: htmx posts get the refreshed panel
    (with the form and its errors, or a notice), plain posts a redirect or the full-page form."""
    if request.method == "POST" and form.is_valid():
        save(form.cleaned_data)
        if not request.htmx:
            messages.success(request, saved)
            return redirect(customer)
        context = panel(request, customer)
        context["saved"] = saved
    elif request.htmx:
        context = {**panel(request, customer), form_key: form}
    else:
        return render(request, page, {"customer": customer, "form": form})
    return render(request, template, {"customer": customer, "panel": {"context": context}})


def interaction_create(request, pk):
    """Log a visit, call, email, message or meeting with a customer."""
    customer = _customer_for_activity(request, pk)
    return _in_place(
        request,
        customer,
        InteractionForm(request.POST or None, customer=customer),
        save=lambda data: services.interaction_log(customer=customer, actor=request.user, **data),
        panel=panel_context.interactions,
        template="customers/panels/interactions.html",
        form_key="interaction_form",
        saved=_("Interaction logged."),
        page="customers/interaction_form.html",
    )


def task_create(request, pk):
    """Plan a follow-up task for a customer."""
    customer = _customer_for_activity(request, pk)
    return _in_place(
        request,
        customer,
        TaskForm(request.POST or None, user=request.user, customer=customer),
        save=lambda data: services.task_create(customer=customer, created_by=request.user, **data),
        panel=panel_context.open_tasks,
        template="customers/panels/tasks.html",
        form_key="task_form",
        saved=_("Task planned."),
        page="customers/task_form.html",
    )


@require_POST
def task_toggle_done(request, pk):
    """Mark one of the tasks the user may see done, or open it again."""
    task = get_object_or_404(Task.objects.visible_to(request.user).select_related("customer"), pk=pk)
    if task.owner_id != request.user.pk and not (task.customer and can_log_activity(request.user, task.customer)):
        raise PermissionDenied(_("Only the task's owner can change it."))
    services.task_set_done(task=task, actor=request.user, done=not task.done)
    if request.htmx:
        context = {
            "task": task,
            "today": timezone.localdate(),
            "show_customer": request.POST.get("show_customer") == "1",
        }
        return render(request, "customers/partials/task_row.html", context)
    messages.success(request, _("Task marked done.") if task.done else _("Task opened again."))
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("customers:task_list")


class TaskListView(ListView):
    """The user's own tasks: overdue first, then by due date; done ones on request."""

    template_name = "customers/task_list.html"
    context_object_name = "tasks"
    paginate_by = 50

    def get_queryset(self):
        tasks = Task.objects.visible_to(self.request.user).filter(owner=self.request.user)
        self.show = self.request.GET.get("show", "open")
        today = timezone.localdate()
        if self.show == "overdue":
            tasks = tasks.overdue(today=today)
        elif self.show == "done":
            tasks = tasks.filter(done=True).order_by("-done_at")
        else:
            tasks = tasks.open()
        return tasks.select_related("customer")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        mine = Task.objects.filter(owner=self.request.user)
        today = timezone.localdate()
        context.update(
            show=self.show,
            today=today,
            open_count=mine.open().count(),
            overdue_count=mine.overdue(today=today).count(),
            due_today_count=mine.due_today(today=today).count(),
        )
        return context


def _contact_form_page(request, customer, form, contact=None):
    return render(request, "customers/contact_form.html", {"customer": customer, "form": form, "contact": contact})


def contact_create(request, pk):
    customer = _customer_for_activity(request, pk)
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        contact = form.save(commit=False)
        contact.customer = customer
        services.contact_save(contact=contact, actor=request.user)
        messages.success(request, _("Contact “%(name)s” added.") % {"name": contact.name})
        return redirect(customer)
    return _contact_form_page(request, customer, form)


def contact_update(request, pk):
    contact = get_object_or_404(Contact.objects.visible_to(request.user).select_related("customer"), pk=pk)
    customer = _customer_for_activity(request, contact.customer_id)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        services.contact_save(contact=form.save(commit=False), actor=request.user)
        messages.success(request, _("Contact “%(name)s” saved.") % {"name": contact.name})
        return redirect(customer)
    return _contact_form_page(request, customer, form, contact)
