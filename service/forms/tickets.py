"""Forms of the ticket pages: create, edit (complaint fields included) and the in-place actions."""

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers import roles
from customers.models import Team
from sales.models import Order, Product

from ..models import Ticket, TicketCategory
from ..services.tickets import EDITABLE_FIELDS

COMPLAINT_FIELDS = ("root_cause", "recovery_action", "feedback_to_customer", "customer_attitude")


def service_staff():
    """Users a ticket can be assigned to: active service agents and supervisors."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=sorted(roles.SERVICE_ROLES))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def _person_label(user):
    return user.get_full_name() or user.username


def _related_choices(form, customer, user):
    """Limit the customer-bound pickers to this customer's contacts and the orders the user may see."""
    if "contact" in form.fields:
        form.fields["contact"].queryset = customer.contacts.order_by("-is_primary", "name")
    if "order" in form.fields:
        form.fields["order"].queryset = (
            Order.objects.visible_to(user).filter(customer=customer).order_by("-ordered_at", "-pk")
        )
        form.fields["order"].label_from_instance = lambda o: f"{o.number} · {o.ordered_at:%Y-%m-%d}"
    if "product" in form.fields:
        form.fields["product"].queryset = Product.objects.filter(active=True).order_by("name")
    if "category" in form.fields:
        current = getattr(form.instance, "category_id", None)
        form.fields["category"].queryset = TicketCategory.objects.filter(Q(active=True) | Q(pk=current)).select_related(
            "parent"
        )


class TicketCreateForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = (
            "type",
            "channel",
            "priority",
            "category",
            "subject",
            "description",
            "contact",
            "order",
            "product",
            "team",
            "assignee",
        )
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, customer, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        _related_choices(self, customer, user)
        self.fields["team"].queryset = Team.objects.order_by("name")
        self.fields["team"].help_text = _("With an assignment rule, the team's next member gets the ticket.")
        self.fields["assignee"].queryset = service_staff()
        self.fields["assignee"].label_from_instance = _person_label
        self.fields["assignee"].help_text = _("Leave empty to let the team's rule pick, or for the unassigned queue.")

    def service_kwargs(self) -> dict:
        return dict(self.cleaned_data)


class TicketUpdateForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Ticket
        fields = EDITABLE_FIELDS
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "resolution": forms.Textarea(attrs={"rows": 3}),
            "feedback_to_customer": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = self.instance.version
        _related_choices(self, self.instance.customer, user)

    def plain_fields(self):
        return [self[name] for name in EDITABLE_FIELDS if name not in COMPLAINT_FIELDS]

    def complaint_fields(self):
        return [self[name] for name in COMPLAINT_FIELDS]

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in EDITABLE_FIELDS}


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply to the customer"), widget=forms.Textarea(attrs={"rows": 4}), max_length=20000)


class NoteForm(forms.Form):
    body = forms.CharField(label=_("Internal note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=20000)


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Ticket.Status.choices)
    note = forms.CharField(
        label=_("Note or resolution"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label=_("Assignee"),
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label=_("Unassigned"),
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=Team.objects.order_by("name"),
        required=False,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, staff=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = staff if staff is not None else service_staff()
        self.fields["assignee"].label_from_instance = _person_label


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(
        label=_("Priority"),
        choices=Ticket.Priority.choices,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
