"""Likely duplicate customers and merging two of them."""

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from .. import roles
from ..duplicates import find_duplicate_groups, load_group_customers
from ..merging import MergeError, fill_values, related_counts
from ..merging import customer_merge as merge_customers
from ..models import Customer
from ..services import EDITABLE_FIELDS

GROUPS_PER_PAGE = 25
MERGE_ROLES = (roles.ADMIN, roles.SALES_MANAGER, roles.SALES_REP)

# Fields compared side by side on the merge page, in the order of the customer form.
# `created_at` is shown to tell the records apart, not highlighted: it always differs.
COMPARED_FIELDS = (*EDITABLE_FIELDS, "tags", "created_at")


def _require_merge_role(user):
    if not roles.has_role(user, *MERGE_ROLES):
        raise PermissionDenied(_("Your role cannot merge customers."))


def duplicate_list(request):
    """Groups of active customers the user may edit that look like the same customer."""
    _require_merge_role(request.user)
    page_obj = Paginator(find_duplicate_groups(request.user), GROUPS_PER_PAGE).get_page(request.GET.get("page"))
    load_group_customers(page_obj.object_list)
    return render(
        request,
        "customers/duplicate_list.html",
        {"page_obj": page_obj, "groups": page_obj.object_list, "querystring": ""},
    )


def _pk_param(params, name):
    try:
        return int(params.get(name, ""))
    except ValueError:
        raise Http404(_("No such customer.")) from None


def _shown(customer, name):
    """A field's value as a reader sees it; blank as the empty string."""
    if name == "tags":
        return ", ".join(sorted(tag.name for tag in customer.tags.all()))
    field = Customer._meta.get_field(name)
    value = getattr(customer, name)
    if value in (None, ""):
        return ""
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if name == "owner":
        return value.get_full_name() or value.get_username()
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _raw(customer, name):
    if name == "tags":
        return {tag.pk for tag in customer.tags.all()}
    value = getattr(customer, Customer._meta.get_field(name).attname)
    return None if value == "" else value


def _comparison(keep, merge):
    """One row per compared field: both values, whether they differ, what the kept record takes."""
    fills = fill_values(keep=keep, merge=merge)
    rows = []
    for name in COMPARED_FIELDS:
        field = Customer._meta.get_field(name)
        rows.append(
            {
                "name": name,
                "label": capfirst(field.verbose_name),
                "keep": _shown(keep, name),
                "merge": _shown(merge, name),
                "differs": name != "created_at" and _raw(keep, name) != _raw(merge, name),
                "filled": name in fills and name != "notes",
                "appended": name == "notes" and "notes" in fills,
                "combined": name == "tags" and bool(_raw(merge, name) - _raw(keep, name)),
            }
        )
    return rows


def _related(keep, merge):
    merge_counts = {key: n for key, _label, n in related_counts(merge, twin=keep)}
    return [
        {"label": capfirst(label), "keep": n, "merge": merge_counts[key]}
        for key, label, n in related_counts(keep, twin=merge)
    ]


def _render_comparison(request, keep, merge, *, status=200, stale=False):
    context = {
        "keep": keep,
        "merge": merge,
        "rows": _comparison(keep, merge),
        "related": _related(keep, merge),
        "ref_stays": bool(keep.external_ref and merge.external_ref),
        "stale": stale,
    }
    return render(request, "customers/customer_merge.html", context, status=status)


def customer_merge(request):
    """GET compares two customers side by side; POST merges `merge` into `keep`."""
    _require_merge_role(request.user)
    params = request.POST if request.method == "POST" else request.GET
    editable = (
        Customer.objects.editable_by(request.user).select_related("owner", "referred_by").prefetch_related("tags")
    )
    keep = get_object_or_404(editable, pk=_pk_param(params, "keep"))
    merge = get_object_or_404(editable, pk=_pk_param(params, "merge"))

    if merge.archived and merge.merged_into_id == keep.pk:
        messages.info(request, _("“%(merged)s” is already merged into this customer.") % {"merged": merge.name})
        return redirect(keep)
    if keep.pk == merge.pk:
        messages.error(request, _("Choose two different customers to merge."))
        return redirect("customers:duplicates")
    if keep.archived or merge.archived:
        messages.error(request, _("Only active customers can be merged; restore the archived one first."))
        return redirect("customers:duplicates")

    if request.method != "POST":
        return _render_comparison(request, keep, merge)

    seen = (params.get("keep_version"), params.get("merge_version"))
    if seen != (str(keep.version), str(merge.version)):
        # Someone edited either record after this page was opened: show what is there now.
        return _render_comparison(request, keep, merge, status=409, stale=True)
    try:
        merge_customers(keep=keep, merge=merge, actor=request.user)
    except MergeError as error:
        messages.error(request, str(error))
        return redirect(f"{reverse('customers:merge')}?keep={keep.pk}&merge={merge.pk}")
    messages.success(request, _("“%(merged)s” was merged into “%(kept)s”.") % {"merged": merge.name, "kept": keep.name})
    return redirect(keep)
