"""Forms of the lead pages and of the public lead-capture form."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Div, Field, Fieldset, Layout, Row
from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers import roles
from customers.forms import sales_users_for
from customers.models import Customer

from ..models import Lead, ScreeningCriterion
from ..services.leads import WORKING_STATUSES, assignable_reps


def _user_label(user):
    return user.get_full_name() or user.username


def active_criteria():
    return ScreeningCriterion.objects.filter(active=True).order_by("position", "pk")


class CriteriaField(forms.ModelMultipleChoiceField):
    """The screening checklist: one box per active criterion, its weight beside its name."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(queryset=active_criteria(), required=False, label=_("Screening checklist"), **kwargs)

    def label_from_instance(self, criterion):
        label = _("%(name)s (weight %(weight)s)") % {"name": criterion.name, "weight": criterion.weight}
        return f"{label} — {criterion.description}" if criterion.description else label


class LeadForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    referred_by_lookup = forms.CharField(
        label=_("Referred by"),
        required=False,
        help_text=_("For a referral: the referring customer's exact name or external reference."),
    )
    criteria = CriteriaField()

    class Meta:
        model = Lead
        fields = [
            "name",
            "company",
            "job_title",
            "phone",
            "email",
            "region",
            "source",
            "owner",
            "status",
            "marketing_consent",
            "message",
            "notes",
        ]
        widgets = {"message": forms.Textarea(attrs={"rows": 3}), "notes": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.visible_customers = Customer.objects.visible_to(user)
        self.fields["status"].choices = [(s.value, s.label) for s in WORKING_STATUSES]
        owners = sales_users_for(user)
        if self.instance.owner_id:
            # Keep the current owner choosable even when the editor could not pick them.
            owners = get_user_model().objects.filter(
                pk__in=[*owners.values_list("pk", flat=True), self.instance.owner_id]
            )
        self.fields["owner"].queryset = owners.order_by("username")
        self.fields["owner"].label_from_instance = _user_label
        if roles.has_role(user, roles.ADMIN, roles.SALES_MANAGER):
            self.fields["owner"].empty_label = _("Unassigned")
        else:
            # A rep's leads are their own; an unassigned one would vanish from their list.
            self.fields["owner"].required = True
            self.fields["owner"].empty_label = None
        if not self.instance.pk and not self.data and "owner" not in self.initial:
            self.initial["owner"] = user.pk
        if self.instance.pk:
            self.fields["version"].required = True
            self.initial["version"] = self.instance.version
            self.initial["criteria"] = list(self.instance.criteria_met.values_list("pk", flat=True))
            if self.instance.referred_by_id:
                referrer = self.instance.referred_by
                self.initial["referred_by_lookup"] = referrer.external_ref or referrer.name
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "version",
            Fieldset(
                _("Who"),
                Row(Column("name", css_class="col-md-6"), Column("job_title", css_class="col-md-6")),
                Row(Column("company", css_class="col-md-6"), Column("region", css_class="col-md-6")),
                Row(Column("phone", css_class="col-md-6"), Column("email", css_class="col-md-6")),
            ),
            Fieldset(
                _("Where from and who works it"),
                Row(Column("source", css_class="col-md-4"), Column("referred_by_lookup", css_class="col-md-8")),
                Row(Column("owner", css_class="col-md-6"), Column("status", css_class="col-md-6")),
                "marketing_consent",
                "message",
            ),
            Fieldset(_("Screening"), Div(Field("criteria"), css_class="screening-checklist"), "notes"),
        )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter the contact's name."))
        return name

    def clean(self):
        data = super().clean()
        if not data.get("phone") and not data.get("email"):
            self.add_error("phone", _("Give at least a phone number or an email address."))
        lookup = (data.get("referred_by_lookup") or "").strip()
        data["referred_by"] = None
        if data.get("source") == Customer.Source.REFERRAL:
            if not lookup:
                self.add_error("referred_by_lookup", _("Say which customer referred this lead."))
            else:
                matches = list(
                    self.visible_customers.filter(external_ref=lookup)[:2]
                    or self.visible_customers.filter(name=lookup, archived=False)[:2]
                )
                if not matches:
                    self.add_error("referred_by_lookup", _("No customer you can see has this name or reference."))
                elif len(matches) > 1:
                    self.add_error("referred_by_lookup", _("Several customers have this name; use the reference."))
                else:
                    data["referred_by"] = matches[0]
        return data

    def service_data(self) -> dict:
        """The cleaned values the services write (without the checklist and the version)."""
        skip = {"criteria", "version", "referred_by_lookup"}
        return {key: value for key, value in self.cleaned_data.items() if key not in skip}


class ScreeningForm(forms.Form):
    """The checklist alone, ticked on the lead's page."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    criteria = CriteriaField()


class AssignForm(forms.Form):
    owner = forms.ModelChoiceField(label=_("Assign to"), queryset=get_user_model().objects.none(), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_reps(user)
        self.fields["owner"].label_from_instance = _user_label
        self.fields["owner"].empty_label = _("Nobody (unassigned)")
        self.fields["owner"].widget.attrs["class"] = "form-select"


class BulkAssignForm(AssignForm):
    leads = forms.ModelMultipleChoiceField(queryset=Lead.objects.none())

    def __init__(self, *args, leads, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["leads"].queryset = leads
        self.fields["leads"].error_messages["required"] = _("Tick at least one lead.")


class ConvertForm(forms.Form):
    NEW = "new"

    customer = forms.ChoiceField(label=_("Customer"), widget=forms.RadioSelect)
    create_opportunity = forms.BooleanField(label=_("Also create an opportunity"), required=False, initial=True)
    opportunity_name = forms.CharField(label=_("Opportunity name"), max_length=200, required=False)
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, min_value=0, required=False)
    expected_close = forms.DateField(
        label=_("Expected close date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args, lead, matches, **kwargs):
        super().__init__(*args, **kwargs)
        self.matches = {str(match.customer.pk): match for match in matches}
        choices = [(self.NEW, _("Create a new customer “%(name)s”") % {"name": lead.company or lead.name})]
        choices += [
            (pk, f"{match.customer.name} — {', '.join(str(r) for r in match.reasons)}")
            for pk, match in self.matches.items()
        ]
        self.fields["customer"].choices = choices
        # The best match is the likely answer; a new customer when nothing matched.
        self.fields["customer"].initial = next(iter(self.matches), self.NEW)
        self.fields["opportunity_name"].initial = lead.company or lead.name
        self.fields["expected_close"].initial = timezone.localdate() + timezone.timedelta(days=30)
        for name, form_field in self.fields.items():
            boxes = name in {"customer", "create_opportunity"}
            form_field.widget.attrs["class"] = "form-check-input" if boxes else "form-control"

    def clean(self):
        data = super().clean()
        if data.get("create_opportunity") and not (data.get("opportunity_name") or "").strip():
            self.add_error("opportunity_name", _("Name the opportunity, or untick “Also create an opportunity”."))
        return data

    def chosen_customer(self):
        """The existing customer picked, or None for a new one."""
        choice = self.cleaned_data["customer"]
        return None if choice == self.NEW else self.matches[choice].customer


class DisqualifyForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        help_text=_("Why this lead is not worth pursuing, e.g. no budget, no need, a competitor's customer."),
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Give a reason."))
        return reason


class PublicLeadForm(forms.Form):
    """What a visitor of the company's website fills in. `website` is the honeypot: hidden from people,
    filled by bots that fill every field."""

    name = forms.CharField(label=_("Your name"), max_length=100)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    email = forms.EmailField(label=_("Email"), required=False, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    region = forms.CharField(label=_("Province or state"), max_length=64, required=False)
    message = forms.CharField(
        label=_("How can we help?"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    consent = forms.BooleanField(
        label=_("I agree that you store these details and contact me about my enquiry."),
        error_messages={"required": _("We can only contact you with your agreement.")},
    )
    marketing_consent = forms.BooleanField(label=_("Also send me news and offers."), required=False)
    website = forms.CharField(label=_("Leave this field empty"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["autocomplete"] = "name"
        self.fields["company"].widget.attrs["autocomplete"] = "organization"
        self.fields["website"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})
        for form_field in self.fields.values():
            is_box = getattr(form_field.widget, "input_type", None) == "checkbox"
            form_field.widget.attrs.setdefault("class", "form-check-input" if is_box else "form-control")

    def clean(self):
        data = super().clean()
        if (
            not data.get("phone")
            and not data.get("email")
            and "phone" not in self.errors
            and "email" not in self.errors
        ):
            self.add_error("phone", _("Give a phone number or an email address so that we can reach you."))
        return data

    @property
    def is_spam(self) -> bool:
        return bool(self.data.get("website", "").strip())

    def lead_data(self) -> dict:
        return {key: self.cleaned_data[key] for key in ("name", "company", "phone", "email", "region", "message")} | {
            "marketing_consent": self.cleaned_data["marketing_consent"]
        }
