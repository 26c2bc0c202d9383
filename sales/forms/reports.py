"""Forms of the sales reports (period and scope filters) and of the monthly target grid."""

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.filters import QuickSelect

from ..models import Pipeline
from .pool import RepChoiceField

MEASURES = [("orders", _("Confirmed and delivered orders")), ("won", _("Won opportunities"))]


class ReportFilterForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    pipeline = forms.ModelChoiceField(
        label=_("Pipeline"), queryset=Pipeline.objects.filter(active=True), empty_label=None, widget=QuickSelect
    )
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=None, required=False, empty_label=_("All"), widget=QuickSelect
    )
    rep = RepChoiceField(label=_("Rep"), queryset=None, required=False, empty_label=_("All"), widget=QuickSelect)
    measure = forms.ChoiceField(label=_("Leaderboard counts"), choices=MEASURES, widget=QuickSelect)

    def __init__(self, *args, teams, reps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["rep"].queryset = reps.order_by("username")
        for f in self.fields.values():
            f.widget.attrs["class"] = "form-select" if isinstance(f.widget, forms.Select) else "form-control"

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The period must start before it ends."))
        return data


class TargetRowForm(forms.Form):
    """One rep's row of the grid: twelve monthly amounts, blank for no target."""

    rep = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for month in range(1, 13):
            self.fields[f"m{month}"] = forms.DecimalField(
                required=False,
                min_value=0,
                max_digits=14,
                decimal_places=2,
                widget=forms.NumberInput(
                    attrs={
                        "class": "form-control form-control-sm text-end",
                        "step": "0.01",
                        "min": "0",
                        "style": "min-width: 7.5rem",
                    }
                ),
            )

    def month_fields(self):
        return [self[f"m{month}"] for month in range(1, 13)]


TargetFormSet = forms.formset_factory(TargetRowForm, extra=0, max_num=1000, validate_max=True)
