"""Why a customer is judged at risk of churning: the reason records the churn job writes into
`CustomerGrade.churn_reasons` and `ChurnAlert.reasons`, and the sentences people read.

A reason is a dict with a `code` and the figures its sentence needs:
- `{"code": "silence", "days": 200, "limit": 150}`: no purchase for `days` days, more than the
  customer's limit (k × own mean inter-purchase interval, at least the rule's floor);
- `{"code": "spend_drop", "share": 0.62, "period_days": 180}`: spend in the last period fell by
  this share against the period before;
- `{"code": "complaint", "tickets": 1, "satisfaction": 2}`: open complaints while the latest
  survey's overall satisfaction is at or below the rule's bar;
- `{"code": "p_alive", "p_alive": 0.12}`: the BG/NBD model's P(alive) is below the high-risk bar.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

SILENCE = "silence"
SPEND_DROP = "spend_drop"
COMPLAINT = "complaint"
P_ALIVE = "p_alive"

LABELS = {
    SILENCE: gettext_lazy("Silent too long"),
    SPEND_DROP: gettext_lazy("Spend falling"),
    COMPLAINT: gettext_lazy("Open complaint, low satisfaction"),
    P_ALIVE: gettext_lazy("Low P(alive)"),
}


def describe(reason: dict) -> str:
    """One sentence, in the current language, for a reason record."""
    code = reason.get("code")
    if code == SILENCE:
        return _("No purchase for %(days)s days (limit %(limit)s days).") % reason
    if code == SPEND_DROP:
        return _("Spend fell by %(percent)s%% over the last %(period_days)s days.") % {
            "percent": round(100 * float(reason.get("share", 0))),
            "period_days": reason.get("period_days", ""),
        }
    if code == COMPLAINT:
        return _("%(tickets)s open complaint(s); latest satisfaction %(satisfaction)s of 5.") % reason
    if code == P_ALIVE:
        return _("P(alive) is %(percent)s%%.") % {"percent": round(100 * float(reason.get("p_alive", 0)))}
    return str(code)
