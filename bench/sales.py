"""Sales benchmarks that `bench/run.py` calls: the order import at scale and the sales pages to time.

Both need Django set up (run.py's `configure_environment` and `django.setup()` come first).
"""

import csv
import random
import tempfile
import time
from io import StringIO
from pathlib import Path

ORDER_REF_PREFIX = "BENCH-ORD-"
LINES_PER_ORDER = (1, 2, 2, 3, 4)


def write_order_file(path: Path, rows: int, *, seed: int = 2026) -> int:
    """A CSV of `rows` lines of new orders (1–4 lines each) for existing customers; returns the number of orders."""
    from customers.models import Customer
    from sales.models import Product

    rng = random.Random(seed)
    refs = list(
        Customer.objects.exclude(external_ref=None).order_by("pk").values_list("external_ref", flat=True)[:50_000]
    )
    if not refs:
        raise RuntimeError("no customers with an external_ref: seed the database first")
    products = list(Product.objects.order_by("sku").values_list("sku", "unit_price"))
    written = orders = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_ref", "order_ref", "ordered_at", "amount", "product", "quantity", "cost"])
        while written < rows:
            customer = rng.choice(refs)
            day = f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
            for _line in range(min(rng.choice(LINES_PER_ORDER), rows - written)):
                quantity = rng.randrange(1, 10)
                if products and rng.random() < 0.8:
                    sku, price = rng.choice(products)
                    writer.writerow(
                        [customer, f"{ORDER_REF_PREFIX}{orders:07d}", day, price * quantity, sku, quantity, ""]
                    )
                else:
                    amount = rng.randrange(100, 100_000) / 100
                    writer.writerow(
                        [customer, f"{ORDER_REF_PREFIX}{orders:07d}", day, amount, "", quantity, round(amount * 0.6, 2)]
                    )
                written += 1
            orders += 1
    return orders


def delete_bench_orders() -> None:
    """Remove what an earlier measurement imported, so that page timings compare between runs."""
    from sales.models import Order, OrderLine

    OrderLine.objects.filter(order__order_ref__startswith=ORDER_REF_PREFIX).delete()
    Order.objects.filter(order_ref__startswith=ORDER_REF_PREFIX).delete()


def measure_order_import(rows: int = 100_000) -> dict:
    """Rows/second of import_orders on a new file of `rows` lines for existing customers, then on the same file again.

    Returns {"rows", "orders", "new" (rows/s), "new_seconds", "again" (rows/s), "again_seconds"} or {"note": why not}.
    """
    from django.core.management import call_command, get_commands

    if "import_orders" not in get_commands():
        return {"note": "skipped: the import_orders command does not exist yet"}
    delete_bench_orders()
    result = {"rows": rows}
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "orders.csv"
            result["orders"] = write_order_file(path, rows)
            for label in ("new", "again"):
                started = time.perf_counter()
                try:
                    call_command("import_orders", str(path), stdout=StringIO(), stderr=StringIO())
                except Exception as error:  # noqa: BLE001 - report whatever the command raised and go on
                    return {"note": f"failed: {type(error).__name__}: {error}"[:300]}
                seconds = time.perf_counter() - started
                result[label] = rows / seconds
                result[f"{label}_seconds"] = seconds
    finally:
        delete_bench_orders()
    return result


def can_use_pool(user) -> bool:
    """Managers read the sales pages but have no pool (they neither claim nor assign)."""
    from customers import roles

    return roles.has_role(user, roles.ADMIN, roles.SALES_MANAGER, roles.SALES_REP)


def pages_for(user) -> list[tuple[str, str, dict]]:
    """(label, path, query parameters) of the sales pages to time for `user`."""
    return [
        ("Leads", "/sales/leads/", {}),
        ("Opportunities", "/sales/opportunities/", {}),
        ("Pipeline (kanban)", "/sales/pipeline/", {}),
        ("Orders", "/sales/orders/", {}),
        ("Orders, 100 per page", "/sales/orders/", {"per_page": "100"}),
        ("Products", "/sales/products/", {}),
        ("Sales reports", "/sales/reports/", {}),
    ] + ([("Customer pool", "/sales/pool/", {})] if can_use_pool(user) else [])
