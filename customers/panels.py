"""Panels of the customer 360 page.

Apps add their own panels (opportunities, orders, tickets, grades, …) from their
`AppConfig.ready()` with `register(Panel(...))`, so `customers` never imports them.
A panel's `context` function gets the request and the customer and must run a constant
number of queries, whatever the customer's history; it returns None when the panel is not for
this reader, and then nothing of it shows.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

MAIN = "main"
SIDE = "side"


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    template_name: str
    context: Callable
    order: int = 100
    column: str = MAIN


_registry: dict[str, Panel] = {}
# Templates of buttons other apps add to the page's actions ("Release to the pool"); each is
# rendered with the page's context (`customer`, `can_edit`) and decides itself whether to show.
_action_templates: dict[str, str] = {}


def register(panel: Panel) -> None:
    """Add or replace a panel on the customer 360 page."""
    _registry[panel.key] = panel


def register_action(key: str, template_name: str) -> None:
    """Add or replace a button template in the customer 360 page's actions."""
    _action_templates[key] = template_name


def action_templates() -> list[str]:
    """The registered action button templates, by key."""
    return [_action_templates[key] for key in sorted(_action_templates)]


def panels_for(request, customer) -> dict[str, list[dict]]:
    """The rendered-ready panels for a customer, grouped by column, in order."""
    columns = {MAIN: [], SIDE: []}
    for panel in sorted(_registry.values(), key=lambda p: (p.order, p.key)):
        context = panel.context(request, customer)
        if context is None:
            continue
        columns[panel.column].append(
            {"key": panel.key, "title": panel.title, "template_name": panel.template_name, "context": context}
        )
    return columns


def register_builtin_panels() -> None:
    from . import panel_context

    register(Panel("contacts", _("Contacts"), "customers/panels/contacts.html", panel_context.contacts, 10, SIDE))
    register(Panel("tasks", _("Open tasks"), "customers/panels/tasks.html", panel_context.open_tasks, 20, SIDE))
    register(
        Panel(
            "interactions",
            _("Interactions"),
            "customers/panels/interactions.html",
            panel_context.interactions,
            10,
            MAIN,
        )
    )
    register(
        Panel("history", _("History of changes"), "customers/panels/history.html", panel_context.history, 90, MAIN)
    )
