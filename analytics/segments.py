"""Names of the RFM segments people read: the built-in name of each key of the default table,
unless the rule's segment row gives its own."""

from django.utils.translation import gettext_lazy as _

BUILT_IN_NAMES = {
    "champions": _("Champions"),
    "loyal": _("Loyal"),
    "cant_lose": _("Can't lose them"),
    "at_risk": _("At risk"),
    "potential_loyalists": _("Potential loyalists"),
    "new_customers": _("New customers"),
    "promising": _("Promising"),
    "need_attention": _("Need attention"),
    "about_to_sleep": _("About to sleep"),
    "hibernating": _("Hibernating"),
    "other": _("Other"),
}
# Buyers whose scores match no row of the table.
UNMATCHED = "other"


def segment_label(key: str, names: dict[str, str] | None = None) -> str:
    """What users read for segment `key`: the rule's own name, else the built-in one, else the key."""
    if names and names.get(key):
        return names[key]
    return str(BUILT_IN_NAMES.get(key, key))


def segment_names(rule) -> dict[str, str]:
    """The rule's segment keys and the names users read, in the table's order (one query)."""
    names = {row.key: segment_label(row.key, {row.key: row.name}) for row in rule.segments.all()}
    names.setdefault(UNMATCHED, str(BUILT_IN_NAMES[UNMATCHED]))
    return names
