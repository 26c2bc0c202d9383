"""Forms of opportunities: create/edit with a products formset, moves, lost reason, follow-up tasks."""

from decimal import Decimal

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from customers.forms import sales_users_for
from customers.models import Customer

from ..models import Opportunity, OpportunityLine, Product, Stage
from ..services.opportunities import OpportunityLineDraft, default_start_stage

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def stage_choices(stages) -> list:
    """Stages grouped by pipeline for a <select> (optgroups when there is more than one pipeline)."""
    groups: dict[str, list] = {}
    for stage in stages:
        groups.setdefault(stage.pipeline.name, []).append((stage.pk, stage.name))
    if len(groups) == 1:
        return next(iter(groups.values()))
    return list(groups.items())


class OpportunityForm(forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    customer_lookup = forms.CharField(
        label=_("Customer"),
        max_length=200,
        help_text=_("The customer's exact name or external reference."),
        widget=forms.TextInput(attrs={"list": "customer-names", "autocomplete": "off"}),
    )
    stage = forms.TypedChoiceField(label=_("Stage"), coerce=int, choices=[])

    class Meta:
        model = Opportunity
        fields = ["name", "owner", "amount", "probability", "expected_close", "next_step", "competitor", "notes"]
        widgets = {"expected_close": DATE_WIDGET, "notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "amount": _("When products are listed below, the amount is their total."),
            "probability": _("Set from the stage when the opportunity moves; change it if you know better."),
        }

    def __init__(self, *args, user, customer: Customer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.visible_customers = Customer.objects.visible_to(user).filter(archived=False)
        self.fields["owner"].queryset = sales_users_for(user)
        self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.username
        self.fields["owner"].required = True
        self.fields["owner"].empty_label = None
        self.fields["probability"].required = False
        if self.instance.pk:
            # Stages change through moves (recorded); the edit form keeps the one it has.
            del self.fields["stage"]
            self.fields["version"].required = True
            self.initial["version"] = self.instance.version
            self.initial["customer_lookup"] = self._customer_key(self.instance.customer)
            if self.instance.owner_id:
                # Keep the current owner choosable even if they are outside the editor's team.
                self.fields["owner"].queryset = (
                    self.fields["owner"].queryset | type(self.instance.owner).objects.filter(pk=self.instance.owner_id)
                ).distinct()
        else:
            stages = Stage.objects.filter(pipeline__active=True, is_won=False, is_lost=False).select_related("pipeline")
            stages = stages.order_by("pipeline__position", "pipeline_id", "position", "pk")
            self.fields["stage"].choices = stage_choices(stages)
            self.fields["stage"].help_text = _("New opportunities start in an open stage.")
            if not self.data:
                self.initial.setdefault("stage", default_start_stage().pk)
                self.initial.setdefault("owner", (customer.owner_id if customer else None) or user.pk)
                self.fields["probability"].help_text = _("Empty: the stage's default probability.")
            if customer is not None and not self.data:
                self.initial["customer_lookup"] = self._customer_key(customer)
                self.initial.setdefault("name", customer.name)
        self.order_fields(["version", "name", "customer_lookup", "stage"])

    @staticmethod
    def _customer_key(customer: Customer) -> str:
        return customer.external_ref or customer.name

    def customer_suggestions(self, limit: int = 200) -> list[str]:
        """Names offered by the customer field's datalist (the user's visible customers, by name)."""
        return list(self.visible_customers.order_by("name").values_list("name", flat=True)[:limit])

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Name the opportunity."))
        return name

    def clean_customer_lookup(self):
        lookup = self.cleaned_data["customer_lookup"].strip()
        matches = list(
            self.visible_customers.filter(external_ref=lookup)[:2] or self.visible_customers.filter(name=lookup)[:2]
        )
        if not matches:
            raise forms.ValidationError(_("None of your customers has this name or reference."))
        if len(matches) > 1:
            raise forms.ValidationError(_("Several customers have this name; use the external reference."))
        self.cleaned_data["customer"] = matches[0]
        return lookup

    def clean_stage(self):
        stage = Stage.objects.filter(pk=self.cleaned_data["stage"], is_won=False, is_lost=False).first()
        if stage is None:
            raise forms.ValidationError(_("Choose an open stage."))
        return stage

    def clean_amount(self):
        amount = self.cleaned_data.get("amount") or Decimal(0)
        if amount < 0:
            raise forms.ValidationError(_("The amount cannot be negative."))
        return amount

    def service_data(self) -> dict:
        """Cleaned values the services take (without the version, the stage and the lookup text)."""
        data = {k: v for k, v in self.cleaned_data.items() if k not in {"version", "customer_lookup", "stage"}}
        if data.get("probability") is None:
            data.pop("probability", None)
        return data


class OpportunityLineForm(forms.ModelForm):
    class Meta:
        model = OpportunityLine
        fields = ["product", "quantity", "unit_price"]
        help_texts = {"unit_price": _("Empty: the product's list price.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.active().order_by("name")
        self.fields["unit_price"].required = False
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select" if isinstance(field.widget, forms.Select) else "form-control"


class BaseOpportunityLineFormSet(forms.BaseInlineFormSet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Current lines may name a product that has since been deactivated: keep it choosable.
        products = Q(active=True)
        if self.instance.pk:
            products |= Q(pk__in=self.instance.lines.values("product"))
        for form in [*self.forms, self.empty_form]:
            form.fields["product"].queryset = Product.objects.filter(products).order_by("name")

    def drafts(self) -> list[OpportunityLineDraft]:
        """The products listed, as the service takes them (deleted and empty rows left out)."""
        return [
            OpportunityLineDraft(
                product=form.cleaned_data["product"],
                quantity=form.cleaned_data["quantity"],
                unit_price=form.cleaned_data.get("unit_price"),
            )
            for form in self.forms
            if form.cleaned_data and form.cleaned_data.get("product") and not form.cleaned_data.get("DELETE")
        ]


OpportunityLineFormSet = forms.inlineformset_factory(
    Opportunity,
    OpportunityLine,
    form=OpportunityLineForm,
    formset=BaseOpportunityLineFormSet,
    extra=2,
    can_delete=True,
)


class MoveForm(forms.Form):
    """Move an opportunity to a stage of its pipeline (the kanban's no-JavaScript form)."""

    stage = forms.ModelChoiceField(label=_("Move to"), queryset=Stage.objects.all())
    lost_reason = forms.CharField(label=_("Lost reason"), max_length=255, required=False)

    def __init__(self, *args, opportunity: Opportunity, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = Stage.objects.filter(pipeline_id=opportunity.pipeline_id)


class LostForm(forms.Form):
    reason = forms.CharField(
        label=_("Why was it lost?"),
        max_length=255,
        help_text=_("E.g. price, competitor chosen, no budget, no decision."),
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why the opportunity was lost."))
        return reason
