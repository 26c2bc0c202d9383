"""Sections other apps add to the order page (the service app adds the customer's survey answers
about the order) from their `AppConfig.ready()`, so that `sales` never imports them.

A section's `context` function gets the request and the order and must run a constant number of
queries; its template reads what it returned as `section.context`.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class OrderSection:
    key: str
    template_name: str
    context: Callable
    order: int = 100


_registry: dict[str, OrderSection] = {}


def register(section: OrderSection) -> None:
    """Add or replace a section of the order page."""
    _registry[section.key] = section


def sections_for(request, order) -> list[dict]:
    """The sections of one order's page, in order, with their context."""
    return [
        {"key": s.key, "template_name": s.template_name, "context": s.context(request, order)}
        for s in sorted(_registry.values(), key=lambda s: (s.order, s.key))
    ]
