"""The customer's survey form: five service-quality dimensions (expected and perceived), overall, recommend."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import DIMENSIONS

# What each dimension means, in the customer's words rather than the textbook's.
DIMENSION_TEXT = {
    "tangibles": (
        _("Facilities, equipment and materials"),
        _("How our premises, equipment, website and documents look and work."),
    ),
    "reliability": (
        _("Reliability"),
        _("Doing what was promised, correctly, the first time."),
    ),
    "responsiveness": (
        _("Responsiveness"),
        _("Being willing to help and answering quickly."),
    ),
    "assurance": (
        _("Assurance"),
        _("Staff who know their job, are courteous and make you feel safe."),
    ),
    "empathy": (
        _("Empathy"),
        _("Caring, individual attention to you and your needs."),
    ),
}

SCALE_7 = [(n, str(n)) for n in range(1, 8)]
SCALE_5 = [(n, str(n)) for n in range(1, 6)]
SCALE_11 = [(n, str(n)) for n in range(11)]


def _scale(choices, label):
    return forms.TypedChoiceField(
        label=label,
        choices=choices,
        coerce=int,
        widget=forms.RadioSelect(attrs={"class": "btn-check", "autocomplete": "off"}),
        error_messages={"required": _("Please pick a number.")},
    )


class SurveyResponseForm(forms.Form):
    """Every scale is required; the comment is optional."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for dim in DIMENSIONS:
            title, _help = DIMENSION_TEXT[dim]
            self.fields[f"{dim}_expected"] = _scale(
                SCALE_7, _("%(dimension)s: what you expected") % {"dimension": title}
            )
            self.fields[f"{dim}_perceived"] = _scale(SCALE_7, _("%(dimension)s: what you got") % {"dimension": title})
        self.fields["overall_satisfaction"] = _scale(SCALE_5, _("Overall, how satisfied are you?"))
        self.fields["likelihood_to_recommend"] = _scale(
            SCALE_11, _("How likely are you to recommend us to a friend or colleague?")
        )
        self.fields["comment"] = forms.CharField(
            label=_("Anything else you would like to tell us?"),
            required=False,
            max_length=4000,
            widget=forms.Textarea(attrs={"rows": 4}),
        )

    def dimension_rows(self):
        """For the template: each dimension with its explanation and its two bound fields."""
        return [
            {
                "key": dim,
                "title": DIMENSION_TEXT[dim][0],
                "help": DIMENSION_TEXT[dim][1],
                "expected": self[f"{dim}_expected"],
                "perceived": self[f"{dim}_perceived"],
            }
            for dim in DIMENSIONS
        ]
