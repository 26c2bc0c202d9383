from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Div, Field, Fieldset, Layout, Row
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import roles
from .models import Contact, Customer, Interaction, Tag, managed_user_ids
from .services import EDITABLE_FIELDS


def sales_users_for(user):
    """Users `user` may make account manager: themselves, their team, or any sales user for admins."""
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    if roles.is_admin(user):
        sales = get_user_model().objects.filter(groups__name__in=[roles.SALES_REP, roles.SALES_MANAGER])
        return users.filter(Q(pk__in=sales.values("pk")) | Q(pk=user.pk))
    if roles.has_role(user, roles.SALES_MANAGER):
        return users.filter(Q(pk__in=managed_user_ids(user)) | Q(pk=user.pk))
    return users.filter(pk=user.pk)


class CustomerForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    referred_by_lookup = forms.CharField(
        label=_("Referred by"),
        required=False,
        help_text=_("The referring customer's exact name or external reference."),
    )
    tags = forms.ModelMultipleChoiceField(
        label=_("Tags"), queryset=Tag.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Customer
        # The referrer is chosen by name or reference (referred_by_lookup), not from a list.
        fields = [name for name in EDITABLE_FIELDS if name != "referred_by"]
        widgets = {
            # type="date" inputs take only ISO dates, whatever the language's date format.
            "birthday": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "anniversary": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.visible_customers = Customer.objects.visible_to(user)
        self.fields["owner"].queryset = sales_users_for(user)
        self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.username
        if not roles.is_admin(user):
            # Only admins may put a customer into the shared pool; others would lose sight of it.
            self.fields["owner"].required = True
            self.fields["owner"].empty_label = None
        if not self.instance.pk and not self.initial.get("owner") and not self.data:
            self.initial["owner"] = user.pk
        if self.instance.pk:
            # The version the editor started from: saving detects edits made since.
            self.fields["version"].required = True
            self.initial["version"] = self.instance.version
            if self.instance.referred_by_id:
                referrer = self.instance.referred_by
                self.initial["referred_by_lookup"] = referrer.external_ref or referrer.name
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "version",
            Fieldset(
                _("Who"),
                Row(Column("kind", css_class="col-md-4"), Column("name", css_class="col-md-8")),
                Row(
                    Column("phone", css_class="col-md-4"),
                    Column("email", css_class="col-md-4"),
                    Column("external_ref", css_class="col-md-4"),
                ),
                Row(
                    Column("region", css_class="col-md-4"),
                    Column("city", css_class="col-md-4"),
                    Column("industry", css_class="col-md-4"),
                ),
                "address",
            ),
            Fieldset(
                _("Relationship"),
                Row(
                    Column("category", css_class="col-md-4"),
                    Column("relationship_level", css_class="col-md-4"),
                    Column("owner", css_class="col-md-4"),
                ),
                Row(Column("source", css_class="col-md-4"), Column("referred_by_lookup", css_class="col-md-8")),
                Div(Field("tags"), css_class="tag-checkboxes"),
            ),
            Fieldset(
                _("Consent and dates"),
                Row(
                    Column("marketing_consent", css_class="col-md-4 pt-md-4"),
                    Column("consent_channel", css_class="col-md-4"),
                ),
                Row(Column("birthday", css_class="col-md-4"), Column("anniversary", css_class="col-md-4")),
                "notes",
            ),
        )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter the customer's name."))
        return name

    def clean_external_ref(self):
        ref = (self.cleaned_data.get("external_ref") or "").strip() or None
        if ref:
            clash = Customer.objects.filter(external_ref=ref).exclude(pk=self.instance.pk).first()
            if clash:
                raise forms.ValidationError(
                    _("Another customer (%(name)s) already has this external reference."), params={"name": clash.name}
                )
        return ref

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        if birthday and birthday > timezone.localdate():
            raise forms.ValidationError(_("A birthday cannot be in the future."))
        return birthday

    def clean(self):
        data = super().clean()
        if not data.get("phone") and not data.get("email"):
            self.add_error("phone", _("Give at least a phone number or an email address."))
        if data.get("marketing_consent") and not data.get("consent_channel"):
            self.add_error("consent_channel", _("Say through which channel the customer gave consent."))
        lookup = (data.get("referred_by_lookup") or "").strip()
        data["referred_by"] = None
        if lookup:
            matches = list(
                self.visible_customers.filter(external_ref=lookup)[:2]
                or self.visible_customers.filter(name=lookup, archived=False)[:2]
            )
            if not matches:
                self.add_error("referred_by_lookup", _("No customer has this name or reference."))
            elif len(matches) > 1:
                self.add_error("referred_by_lookup", _("Several customers have this name; use the reference."))
            elif self.instance.pk and matches[0].pk == self.instance.pk:
                self.add_error("referred_by_lookup", _("A customer cannot refer itself."))
            else:
                data["referred_by"] = matches[0]
        return data

    def service_data(self) -> dict:
        """The cleaned values the services write (without tags and version)."""
        return {k: v for k, v in self.cleaned_data.items() if k not in {"tags", "version", "referred_by_lookup"}}


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "title", "phone", "email", "is_primary", "notes"]

    def clean(self):
        data = super().clean()
        if not data.get("phone") and not data.get("email"):
            self.add_error("phone", _("Give at least a phone number or an email address."))
        return data


class InteractionForm(forms.ModelForm):
    class Meta:
        model = Interaction
        fields = ["kind", "occurred_at", "contact", "subject", "outcome"]
        widgets = {
            "occurred_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "outcome": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = customer.contacts.all()
        self.fields["occurred_at"].initial = timezone.localtime().replace(second=0, microsecond=0)

    def clean_occurred_at(self):
        when = self.cleaned_data["occurred_at"]
        if when > timezone.now() + timezone.timedelta(minutes=5):
            raise forms.ValidationError(_("An interaction cannot be logged in the future; plan a task instead."))
        return when


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=200)
    due_date = forms.DateField(label=_("Due"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    owner = forms.ModelChoiceField(label=_("For"), queryset=get_user_model().objects.none())
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user, customer=None, **kwargs):
        super().__init__(*args, **kwargs)
        owners = sales_users_for(user)
        if customer is not None and customer.owner_id:
            owners = get_user_model().objects.filter(Q(pk__in=owners.values("pk")) | Q(pk=customer.owner_id))
        self.fields["owner"].queryset = owners.order_by("username")
        self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.username
        self.fields["owner"].initial = user.pk
        self.fields["due_date"].initial = timezone.localdate() + timezone.timedelta(days=1)

    def clean_due_date(self):
        due = self.cleaned_data["due_date"]
        if due < timezone.localdate():
            raise forms.ValidationError(_("The due date is in the past."))
        return due


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8) or Excel .xlsx with a header row."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        if upload.size > settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024:
            raise forms.ValidationError(
                _("The file is larger than %(mb)s MB."), params={"mb": settings.IMPORT_MAX_UPLOAD_MB}
            )
        return upload
