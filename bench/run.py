"""Benchmarks: seeding, importing and the main pages at scale (`make bench`; not part of the tests).

Runs against DATABASE_URL (created first when it names a missing PostgreSQL database; without
DATABASE_URL, a separate SQLite file var/bench.sqlite3 so the development database is left alone),
migrates it, seeds it with seed_demo up to --customers, times `import_customers` on a generated
10,000-row CSV, then requests each page as the demo `manager` (sees everything) and `sales1`
(sees their own customers) and reports the server time and the number of queries.

    .venv/bin/python bench/run.py [--customers 100000] [--requests 30] [--write-docs]
"""

import argparse
import csv
import datetime
import logging
import math
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results" / "latest.md"
DOCS = ROOT / "docs" / "benchmarks.md"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
WARM_UP = 3
IMPORT_ROWS = 10_000
ORDER_IMPORT_ROWS = 100_000
IMPORT_PREFIX = "BENCH-IMP-"
# Who the pages are timed for: sees everything; sees their own; works the service queue.
BENCH_USERS = ("manager", "sales1", "service1")


def configure_environment() -> None:
    """Production-like settings the test client can talk to: no DEBUG, no HTTPS redirect."""
    sys.path.insert(0, str(ROOT))
    import environ

    # The same .env the settings read, so "the configured database" means the same thing here.
    environ.Env.read_env(ROOT / ".env", overwrite=False)
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm_site.settings"
    os.environ["DEBUG"] = "false"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-never-used-in-production-0123456789")
    hosts = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
    os.environ["ALLOWED_HOSTS"] = ",".join([*hosts, "testserver"])
    if not os.environ.get("DATABASE_URL"):
        (ROOT / "var").mkdir(exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"


def ensure_postgres_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` when it does not exist yet."""
    import environ
    import psycopg2
    from psycopg2 import sql

    config = environ.Env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        return
    server = psycopg2.connect(
        dbname="postgres",
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
    )
    try:
        server.autocommit = True
        with server.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
            if cursor.fetchone() is None:
                progress(f"Creating database {config['NAME']}")
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    finally:
        server.close()


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value at or above `share` of the samples."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


# Setup ---------------------------------------------------------------------------------------


def seed(customers: int) -> dict:
    """Seed up to `customers`; return what was done and at what rate."""
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from customers.models import Customer

    existing = Customer.objects.count()
    if existing >= customers:
        if get_user_model().objects.filter(username__in=["manager", "sales1"]).count() != 2:
            call_command("seed_demo", customers=0, stdout=StringIO())
        progress(f"{existing} customers already there; not seeding")
        return {"existing": existing, "added": 0, "seconds": None, "rate": None}
    wanted = customers - existing
    progress(f"Seeding {wanted} customers (this database has {existing})")
    out = StringIO()
    started = time.perf_counter()
    call_command("seed_demo", customers=wanted, seed=42, append=bool(existing), stdout=out)
    seconds = time.perf_counter() - started
    summary = out.getvalue().splitlines()[0]
    progress(summary)
    return {"existing": existing, "added": wanted, "seconds": seconds, "rate": wanted / seconds, "summary": summary}


def refresh_statistics() -> None:
    """VACUUM ANALYZE (PostgreSQL) or ANALYZE (SQLite), as autovacuum would have done after a bulk load.

    Straight after seeding, the planner has no statistics and PostgreSQL's visibility map is
    empty, so index-only scans read the table: the pages would be timed in a state that a
    running installation is never in for long.
    """
    from django.db import connection

    progress("Refreshing the planner's statistics")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def write_import_file(path: Path, rows: int) -> None:
    """A customer file as a CRM user would export it from elsewhere, with new references, phones and e-mails."""
    from customers import demo_data

    rng = random.Random(2026)
    provinces = [(p, cities) for p, _w, cities in demo_data.PROVINCES]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_ref", "name", "kind", "phone", "email", "region", "city", "industry", "owner"])
        for n in range(rows):
            province, cities = rng.choice(provinces)
            city = rng.choice(cities)[0]
            if n % 2:
                surname = rng.choice(demo_data.SURNAMES)[0]
                given = "".join(rng.choice(demo_data.GIVEN_NAME_CHARS)[0] for _i in range(2))
                name, kind, industry = surname + given, "individual", ""
            else:
                first = rng.choice(demo_data.BRAND_FIRST)[0] + rng.choice(demo_data.BRAND_SECOND)[0]
                industry = rng.choice(list(demo_data.INDUSTRY_WORDS))
                name = f"{city}市{first}{demo_data.INDUSTRY_WORDS[industry][0][0]}有限公司{n}"
                kind = "organisation"
            # 147 numbers are data-only SIMs: the seeded customers never have them, so every row is new.
            writer.writerow(
                [
                    f"{IMPORT_PREFIX}{n:05d}",
                    name,
                    kind,
                    f"147{n:08d}",
                    f"import{n}@bench.example.com",
                    province,
                    city,
                    industry,
                    rng.choice(["sales1", "sales2", ""]),
                ]
            )


def measure_import() -> dict:
    """Rows/second of import_customers on a new 10,000-row file, then on the same file again (no changes)."""
    from io import StringIO

    from django.core.management import call_command, get_commands

    from customers.models import Customer

    if "import_customers" not in get_commands():
        return {"note": "skipped: the import_customers command does not exist yet"}
    Customer.objects.filter(external_ref__startswith=IMPORT_PREFIX).delete()
    result = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "customers.csv"
        write_import_file(path, IMPORT_ROWS)
        for label in ("new", "again"):
            progress(f"Importing {IMPORT_ROWS} rows ({label})")
            started = time.perf_counter()
            try:
                call_command("import_customers", str(path), stdout=StringIO(), stderr=StringIO())
            except Exception as error:  # noqa: BLE001 - report whatever the command raised and go on
                return {"note": f"failed: {type(error).__name__}: {error}"[:300]}
            result[label] = IMPORT_ROWS / (time.perf_counter() - started)
    # Leave the database as seeded, so that page timings compare between runs.
    Customer.objects.filter(external_ref__startswith=IMPORT_PREFIX).delete()
    return result


# Pages ---------------------------------------------------------------------------------------


def busiest_customer(user) -> int | None:
    """The customer with the most interactions among those the user sees."""
    from django.db.models import Count

    from customers.models import Customer, Interaction

    row = (
        Interaction.objects.filter(customer__in=Customer.objects.visible_to(user).filter(archived=False))
        .values("customer")
        .annotate(n=Count("pk"))
        .order_by("-n", "customer")
        .first()
    )
    return row["customer"] if row else None


def pages_for(user) -> list[tuple[str, str, dict]]:
    """The pages to time for `user`: the customer pages for sales people and managers, then each app's own."""
    from bench import analytics as analytics_bench
    from bench import sales as sales_bench
    from bench import service as service_bench
    from customers import roles

    pages = []
    if roles.has_role(user, roles.ADMIN, roles.MANAGER, roles.SALES_MANAGER, roles.SALES_REP):
        pages += customer_pages_for(user) + sales_bench.pages_for(user)
    return pages + service_bench.pages_for(user) + analytics_bench.pages_for(user)


def customer_pages_for(user) -> list[tuple[str, str, dict]]:
    detail = busiest_customer(user)
    pages = [
        ("Home", "/", {}),
        ("Customer list", "/customers/", {}),
        ("Customer list, 100 per page", "/customers/", {"per_page": "100"}),
        ("Filtered list", "/customers/", {"category": "consumer", "region": "广东", "sort": "-updated"}),
        ("List search: surname 王", "/customers/", {"q": "王"}),
        ("Global search: phone prefix 138", "/search/", {"q": "138"}),
    ]
    if detail:
        from customers.models import Customer

        # Three or more characters from a real name: the trigram index can serve this search.
        name = Customer.objects.get(pk=detail).name
        fragment = name[2:6] if len(name) >= 6 else name
        pages.append((f"List search: part of a name ({fragment})", "/customers/", {"q": fragment}))
        pages.append(("Customer 360 (most interactions)", f"/customers/{detail}/", {}))
    return pages


def request_once(client, path: str, params: dict):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
    return response, queries.captured_queries


def measure_page(client, path: str, params: dict, requests: int) -> dict:
    """Median and p95 server time (ms) over `requests` requests after a warm-up, and the query count."""
    try:
        for _n in range(WARM_UP):
            response = client.get(path, params)
        response, queries = request_once(client, path, params)
    except Exception as error:  # noqa: BLE001 - a page that fails is a result, not the end of the run
        return {"error": f"{type(error).__name__}: {error}".splitlines()[0][:160]}
    if response.status_code != 200:
        return {"error": f"HTTP {response.status_code}"}
    # Timed without capturing queries, which would slow every query down a little.
    timings = []
    for _n in range(requests):
        started = time.perf_counter()
        client.get(path, params)
        timings.append((time.perf_counter() - started) * 1000)
    slowest = max(queries, key=lambda q: float(q["time"]), default=None)
    return {
        "median": statistics.median(timings),
        "p95": percentile(timings, 0.95),
        "queries": len(queries),
        "db_ms": sum(float(q["time"]) for q in queries) * 1000,
        "size": len(response.content),
        "slowest": (float(slowest["time"]) * 1000, short_sql(slowest["sql"])) if slowest else None,
    }


def short_sql(sql: str, limit: int = 220) -> str:
    """A query as a reader skims it: the column list elided, cut at `limit` characters."""
    sql = re.sub(r"\s+", " ", re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", sql, count=1, flags=re.DOTALL))
    return sql if len(sql) <= limit else sql[: limit - 1] + "…"


def measure_pages(requests: int) -> tuple[list[dict], list[str]]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    rows, warnings_ = [], []
    for username in BENCH_USERS:
        user = get_user_model().objects.get(username=username)
        client = Client()
        client.force_login(user, backend=MODEL_BACKEND)
        for label, path, params in pages_for(user):
            progress(f"{username}: {label}")
            rows.append(
                {"user": username, "page": label, "url": url_of(path, params)}
                | measure_page(client, path, params, requests)
            )
        if username == "service1":
            continue
        small = request_once(client, "/customers/", {"per_page": "25"})
        large = request_once(client, "/customers/", {"per_page": "100"})
        if small[0].status_code == large[0].status_code == 200 and len(small[1]) != len(large[1]):
            warnings_.append(
                f"WARNING: the customer list runs {len(small[1])} queries at 25 per page but {len(large[1])} at 100 "
                f"per page for {username}: a query per row?"
            )
    return rows, warnings_


def url_of(path: str, params: dict) -> str:
    from urllib.parse import urlencode

    return path + (f"?{urlencode(params)}" if params else "")


# Report --------------------------------------------------------------------------------------


def machine_facts() -> dict:
    import django
    from django.db import connection

    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]}"
    elif connection.vendor == "sqlite":
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version}"
    else:
        database = connection.vendor
    return {
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": database,
        "os": platform.platform(terse=True),
        "load": " ".join(f"{n:.1f}" for n in os.getloadavg()),
    }


def report(*, facts, seeding, importing, order_import, tickets, jobs, pages, warnings_, customers, requests) -> str:
    from bench import analytics as analytics_bench
    from customers.models import Customer, Interaction
    from sales.models import Order, OrderLine
    from service.models import Ticket

    lines = [
        f"## {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} — {customers:,} customers on {facts['database']}",
        "",
        f"Machine: {facts['cpus']} CPUs, {facts['memory']} memory, {facts['os']}; Python {facts['python']}, "
        f"Django {facts['django']}, {facts['database']}; load average {facts['load']} before the pages were timed. "
        "Server time per request through Django's test client "
        "(DEBUG off, all middleware; planner statistics refreshed first), "
        f"median and 95th percentile of {requests} requests after {WARM_UP} warm-up.",
        "",
        f"Data: {Customer.objects.count():,} customers, {Interaction.objects.count():,} interactions, "
        f"{Order.objects.count():,} orders with {OrderLine.objects.count():,} lines, "
        f"{Ticket.objects.count():,} tickets.",
        "",
    ]
    if seeding["rate"]:
        lines.append(
            f"- Seeding (`seed_demo`): {seeding['added']:,} customers in {seeding['seconds']:.1f} s — "
            f"**{seeding['rate']:,.0f} customers/second** with their contacts, interactions, tasks and tags, "
            f"demo users included. The command said: “{seeding['summary']}”"
        )
    else:
        lines.append(f"- Seeding: skipped, the database already had {seeding['existing']:,} customers.")
    if "note" in importing:
        lines.append(f"- Import (`import_customers`): {importing['note']}.")
    else:
        lines.append(
            f"- Import (`import_customers`, {IMPORT_ROWS:,}-row CSV): **{importing['new']:,.0f} rows/second** new "
            f"customers; {importing['again']:,.0f} rows/second re-importing the same file (nothing changes)."
        )
    if "note" in order_import:
        lines.append(f"- Order import (`import_orders`): {order_import['note']}.")
    else:
        lines.append(
            f"- Order import (`import_orders`, {order_import['rows']:,} lines in {order_import['orders']:,} orders): "
            f"**{order_import['new']:,.0f} rows/second** new orders ({order_import['new_seconds']:.1f} s); "
            f"{order_import['again']:,.0f} rows/second re-importing the same file (nothing changes)."
        )
    added = f", of which {tickets['added']:,} added in {tickets['seconds']:.1f} s" if tickets.get("seconds") else ""
    lines.append(f"- Tickets: {Ticket.objects.count():,}{added} (`bench/service.py`, the demo generator).")
    lines += analytics_bench.report_lines(jobs)
    lines += [
        "",
        "| Page | User | Median ms | p95 ms | Queries | of which DB ms | KiB |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for row in pages:
        if "error" in row:
            lines.append(f"| {row['page']} | {row['user']} | {row['error']} | | | | |")
        else:
            lines.append(
                f"| {row['page']} | {row['user']} | {row['median']:.1f} | {row['p95']:.1f} | {row['queries']} "
                f"| {row['db_ms']:.0f} | {row['size'] / 1024:.0f} |"
            )
    lines.append("")
    lines += warnings_ or ["Query count of the customer list is the same at 25 and 100 per page."]
    lines += ["", "Slowest query of each page (one request, timed by Django's debug cursor):", ""]
    lines += ["| Page | User | ms | Query |", "|---|---|--:|---|"]
    for row in pages:
        if row.get("slowest"):
            ms, sql = row["slowest"]
            lines.append(f"| {row['page']} | {row['user']} | {ms:.1f} | `{sql.replace('|', '¦')}` |")
    lines.append("")
    return "\n".join(lines)


def write_docs(section: str) -> None:
    DOCS.parent.mkdir(exist_ok=True)
    if not DOCS.exists():
        DOCS.write_text("# Benchmarks\n\nResults of `make bench`, newest last.\n\n", encoding="utf-8")
    with DOCS.open("a", encoding="utf-8") as handle:
        handle.write("\n" + section)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000, help="seed up to this many customers")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page and user")
    parser.add_argument("--tickets", type=int, default=200_000, help="top the database up to this many tickets")
    parser.add_argument("--orders", type=int, default=1_000_000, help="top the database up to this many orders")
    parser.add_argument("--skip-import", action="store_true", help="do not time import_customers")
    parser.add_argument("--skip-jobs", action="store_true", help="do not time the grading and churn jobs")
    parser.add_argument("--write-docs", action="store_true", help="append the results to docs/benchmarks.md")
    args = parser.parse_args()

    configure_environment()
    ensure_postgres_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    # The manifest storage needs collectstatic; plain storage renders {% static %} without it.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages).enable()
    # Whitenoise warns once that there is no collected static folder; the bench does not serve files.
    warnings.filterwarnings("ignore", message="No directory at")
    # django-axes logs every forced login; the bench output is the table.
    logging.getLogger("axes").setLevel(logging.WARNING)

    progress(f"Database: {settings.DATABASES['default']['ENGINE']} {settings.DATABASES['default']['NAME']}")
    call_command("migrate", interactive=False, verbosity=0)
    seeding = seed(args.customers)
    from bench import analytics as analytics_bench
    from bench import sales as sales_bench
    from bench import service as service_bench

    tickets = service_bench.ensure_tickets(args.tickets)
    analytics_bench.ensure_orders(args.orders)
    refresh_statistics()
    importing = {"note": "skipped (--skip-import)"} if args.skip_import else measure_import()
    if args.skip_import:
        order_import = {"note": "skipped (--skip-import)"}
    else:
        progress(f"Importing {ORDER_IMPORT_ROWS:,} order lines (new, then the same file again)")
        order_import = sales_bench.measure_order_import(ORDER_IMPORT_ROWS)
    if not args.skip_jobs:
        jobs = analytics_bench.measure_jobs()
        # The nightly jobs rewrite grades, customers and alerts; autovacuum tidies up after them
        # long before the working day, so the pages are timed on vacuumed tables.
        refresh_statistics()
    else:
        jobs = {}
    facts = machine_facts()
    pages, warnings_ = measure_pages(args.requests)
    section = report(
        facts=facts,
        seeding=seeding,
        importing=importing,
        order_import=order_import,
        tickets=tickets,
        jobs=jobs,
        pages=pages,
        warnings_=warnings_,
        customers=args.customers,
        requests=args.requests,
    )
    print(section)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(section, encoding="utf-8")
    progress(f"Written to {RESULTS.relative_to(ROOT)}")
    if args.write_docs:
        write_docs(section)
        progress(f"Appended to {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
