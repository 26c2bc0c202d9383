"""Browser tests: Debian's Chromium driven by Playwright's sync API against pytest-django's live server.

A test module loads this file as a plugin with `pytest_plugins = ["tests.browser"]`, which gives it
the fixtures below and the failure screenshots; helpers and Playwright's `expect` are imported from it:

    pytest_plugins = ["tests.browser"]

    @pytest.mark.browser
    def test_rep_sees_their_customers(logged_in_page, owner):
        page = logged_in_page(owner)
        page.goto("/customers/")

Pages open in English (`locale="en-US"`), with addresses relative to the live server. When a test
fails, every page it opened is saved as a PNG in the test's tmp dir and the failure report names the
files, the address each page was on and what the browser console complained about.

PYTEST_DONT_REWRITE: test modules import this file before pytest loads it as a plugin (it has no
bare asserts to rewrite); the marker keeps pytest from warning about that.
"""

import os
import re
from pathlib import Path

import pytest

from tests.factories import PASSWORD

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails) with the reason
    expect = None

CHROMIUM = "/usr/bin/chromium"
# Never `playwright install`: it downloads a browser and fails offline. These flags keep Debian's
# Chromium quiet and working as root in containers without /dev/shm space.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
# Long enough for a loaded 2-core CI machine, short enough that a missing element fails fast.
TIMEOUT_MS = 10_000
if expect is not None:
    # Assertions wait as long as page actions do (Playwright's own default for expect is 5 s).
    expect.set_options(timeout=TIMEOUT_MS)
LOGIN_URL = re.compile(r"/accounts/login/")

_opened_pages = pytest.StashKey[list]()
_screenshot_dir = pytest.StashKey[Path]()


def _browser_unavailable(reason: str):
    message = f"{reason}: install it with apt-get install chromium (make test does this as root)"
    # CI sets E2E_REQUIRED=1 so that a machine without a browser cannot pass by skipping.
    if os.environ.get("E2E_REQUIRED") == "1":
        pytest.fail(f"{message} [E2E_REQUIRED=1, so this fails instead of skipping]", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, launched once per test session."""
    if not Path(CHROMIUM).exists():
        _browser_unavailable(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable(f"Playwright cannot be imported, so Chromium at {CHROMIUM} cannot be driven")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_server, request, tmp_path):
    """new_page(viewport=PHONE) opens a page in a fresh browser context (its own cookies)."""
    contexts = []
    request.node.stash[_opened_pages] = []
    request.node.stash[_screenshot_dir] = tmp_path

    def _new_page(*, viewport=DESKTOP):
        # Below Bootstrap's `sm` breakpoint, behave like a phone: touch, and the page's meta viewport applies.
        phone_sized = viewport["width"] < 576
        context = browser.new_context(
            base_url=live_server.url,
            locale="en-US",
            viewport=viewport,
            is_mobile=phone_sized,
            has_touch=phone_sized,
            device_scale_factor=2 if phone_sized else 1,
            # Bootstrap then neither scrolls smoothly nor animates a collapse: a click lands where
            # Playwright aimed, not beside an element still moving (a flaky "Save task" click).
            reduced_motion="reduce",
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        _record_console_problems(page)
        request.node.stash[_opened_pages].append(page)
        return page

    yield _new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A desktop-sized page, not logged in."""
    return new_page()


@pytest.fixture
def logged_in_page(new_page):
    """logged_in_page(user, viewport=DESKTOP) opens a page and logs in through the real login form."""

    def _logged_in_page(user, *, viewport=DESKTOP):
        page = new_page(viewport=viewport)
        log_in(page, user)
        return page

    return _logged_in_page


def _record_console_problems(page):
    # CSP violations, failed requests and script errors show up in the console: failure reports list them.
    page.console_problems = []

    def on_console(message):
        if message.type in {"error", "warning"}:
            where = message.location.get("url", "")
            page.console_problems.append(f"{message.type}: {message.text} ({where})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: page.console_problems.append(f"uncaught exception: {error}"))


def console_problems(page) -> list[str]:
    """What the console reported on this page, except the missing /favicon.ico (base.html links no icon)."""
    return [problem for problem in page.console_problems if "/favicon.ico)" not in problem]


def log_in(page, user, password=PASSWORD):
    """Log in through the login form as a person would, and check that it worked."""
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.locator("form", has=page.locator("#id_password")).locator("[type=submit]").click()
    expect(page, f"logging in as {user.username!r} left the browser on the login page").not_to_have_url(LOGIN_URL)


def drag(page, handle, target) -> None:
    """Drag `handle` onto `target` with real mouse steps: SortableJS needs the pointer to travel, not to teleport."""
    source = handle.bounding_box()
    box = target.bounding_box()
    page.mouse.move(source["x"] + 5, source["y"] + source["height"] / 2)
    page.mouse.down()
    steps = 12
    for step in range(1, steps + 1):
        x = source["x"] + (box["x"] + box["width"] / 2 - source["x"]) * step / steps
        y = source["y"] + (box["y"] + 20 - source["y"]) * step / steps
        page.mouse.move(x, y)
    page.mouse.up()


def overflow_width(page) -> int:
    """By how many CSS pixels the page is wider than the screen (0 when nothing scrolls sideways)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - Math.min(window.innerWidth, document.documentElement.clientWidth)"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed browser test, screenshot each page it opened and name the files in the failure report."""
    report = yield
    pages = item.stash.get(_opened_pages, [])
    if report.when != "call" or not report.failed or not pages:
        return report
    safe_name = re.sub(r"[^\w.-]", "_", item.name)
    lines = []
    for number, page in enumerate(pages, start=1):
        if page.is_closed():
            continue
        path = item.stash[_screenshot_dir] / f"{safe_name}-page{number}.png"
        try:
            page.screenshot(path=path, full_page=True)
            lines.append(f"page {number} at {page.url}: screenshot {path}")
        except Exception as error:  # a failed screenshot must not hide the test's own failure
            lines.append(f"page {number} at {page.url}: no screenshot ({error})")
        lines.extend(f"    console: {problem}" for problem in page.console_problems)
    if hasattr(report.longrepr, "addsection"):
        report.longrepr.addsection("Browser screenshots", "\n".join(lines))
    else:
        report.sections.append(("Browser screenshots", "\n".join(lines)))
    return report
