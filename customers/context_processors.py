"""Navigation for the sidebar, by role."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import roles

# (label, url name, icon, roles that see it — empty: everyone with a role, section heading).
# Later apps add their own section with `add_section` from their AppConfig.ready().
NAVIGATION = [
    (_("Home"), "customers:home", "house", (), ""),
    (_("Customers"), "customers:list", "people", (), ""),
    (_("My tasks"), "customers:task_list", "check2-square", (), ""),
    (_("Duplicates"), "customers:duplicates", "intersect", (roles.ADMIN, roles.SALES_MANAGER, roles.SALES_REP), ""),
    (_("Import customers"), "customers:import", "upload", ("perm:customers.import_customers",), ""),
]
# Shown last, after every app's section.
_TRAILING = [(_("Job runs"), "customers:job_runs", "clock-history", (roles.ADMIN, roles.MANAGER), _("System"))]


def add_section(section, items) -> None:
    """Add a sidebar section: `items` are (label, url name, icon, roles) like NAVIGATION's."""
    NAVIGATION.extend((label, name, icon, needs, section) for label, name, icon, needs in items)


def _allowed(user, needs):
    if not needs:
        return True
    for need in needs:
        if need.startswith("perm:"):
            if user.has_perm(need[5:]):
                return True
        elif roles.has_role(user, need):
            return True
    return False


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    path = request.path
    items = [
        {"label": label, "url": reverse(name), "icon": icon, "section": section, "active": False}
        for label, name, icon, needs, section in [*NAVIGATION, *_TRAILING]
        if _allowed(user, needs)
    ]
    # The item whose address is the longest prefix of the current path is the active one.
    matching = [item for item in items if path == item["url"] or (item["url"] != "/" and path.startswith(item["url"]))]
    if matching:
        max(matching, key=lambda item: len(item["url"]))["active"] = True
    return {
        "nav_items": items,
        "user_roles": sorted(str(roles.LABELS.get(name, name)) for name in roles.roles_of(user)),
        "is_crm_admin": roles.is_admin(user),
    }
