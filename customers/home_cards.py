"""Figures other apps add to the home dashboard (open leads, pipeline value, tickets breaching…).

An app registers a function from its `AppConfig.ready()`; the function gets the request and
returns a list of `HomeCard`s for that user (empty when the user's role has no use for them),
with a constant number of queries.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class HomeCard:
    label: str
    value: object
    url: str
    alert: bool = False  # shown in red: something needs attention


_providers: dict[str, tuple[int, Callable]] = {}


def register(key: str, provider: Callable, order: int = 100) -> None:
    """Add or replace a provider of home cards."""
    _providers[key] = (order, provider)


def cards_for(request) -> list[HomeCard]:
    """Every registered card for the request's user, in the providers' order."""
    cards = []
    for _order, provider in sorted(_providers.values(), key=lambda item: item[0]):
        cards.extend(provider(request))
    return cards
