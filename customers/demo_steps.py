"""Demo data of other apps: they register a step from their `AppConfig.ready()`, and `seed_demo`
runs every step, in order, after it has written the customers (so `customers` imports no app).

A step gets a `DemoContext` and returns a dict of counts for the command's summary. It must be
deterministic for the context's `rng`, and must not issue a query per row at 100,000 customers:
write with `customers.bulk.TableWriter` and `reserve_ids`.
"""

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DemoContext:
    rng: random.Random
    users: dict  # demo username → User
    customer_ids: list[int]  # the customers this run created, oldest first
    now: datetime.datetime
    first_run: bool  # False with --append: staff-level data (products, pipelines…) exists already


@dataclass(frozen=True)
class DemoStep:
    key: str
    run: Callable[[DemoContext], dict]
    order: int = 100


_registry: dict[str, DemoStep] = {}


def register(step: DemoStep) -> None:
    """Add or replace a demo step."""
    _registry[step.key] = step


def run_all(*, seed: int | str, users: dict, customer_ids: list[int], now: datetime.datetime, first_run: bool) -> dict:
    """Run every registered step in order; each gets its own generator derived from the seed."""
    counts = {}
    for step in sorted(_registry.values(), key=lambda s: (s.order, s.key)):
        context = DemoContext(
            rng=random.Random(f"{seed}/{step.key}"),
            users=users,
            customer_ids=customer_ids,
            now=now,
            first_run=first_run,
        )
        counts.update(step.run(context))
    return counts
