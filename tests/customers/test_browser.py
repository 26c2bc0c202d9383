"""The customer database as a sales rep uses it in Chromium: pages, htmx updates, phone layout, languages."""

import re

import pytest

from customers.models import Customer, Interaction, Task
from tests.browser import PHONE, console_problems, expect, overflow_width
from tests.factories import CustomerFactory

pytestmark = pytest.mark.browser

NEW_NAME = "杭州云栖科技有限公司"


def _mark_page(page):
    """Leave a marker in the page's JavaScript state: a full page load wipes it, an htmx swap does not."""
    page.evaluate("window.__marker = 1")


def _still_marked(page) -> bool:
    return page.evaluate("window.__marker === 1")


def test_rep_creates_a_customer_finds_it_and_logs_an_interaction(logged_in_page, owner):
    CustomerFactory(name="Shenzhen Bright Lights Trading", owner=owner)
    CustomerFactory(name="北京长城贸易有限公司", owner=owner)
    page = logged_in_page(owner)

    page.locator("#sidebar").get_by_role("link", name="Customers", exact=True).click()
    expect(page).to_have_url(re.compile(r"/customers/$"))
    page.get_by_role("link", name="New customer").click()
    page.fill("#id_name", NEW_NAME)
    page.fill("#id_phone", "0571-8888 6666")
    page.fill("#id_email", "contact@yunqi-tech.example.cn")
    page.select_option("#id_category", label="Group buyer")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator("h1")).to_contain_text(NEW_NAME)
    expect(page.locator(".alert-success")).to_contain_text(f"Customer “{NEW_NAME}” created.")
    customer = Customer.objects.get(name=NEW_NAME)
    assert customer.owner == owner
    assert customer.category == Customer.Category.GROUP_BUYER
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))

    # The new customer is in the list, and the top bar's live search finds it by part of its name.
    page.locator("#sidebar").get_by_role("link", name="Customers", exact=True).click()
    expect(page.locator("#customer-results").get_by_role("link", name=NEW_NAME)).to_be_visible()
    _mark_page(page)
    page.locator("#global-search-input").press_sequentially("云栖", delay=50)
    live_results = page.locator("#global-search-results")
    expect(live_results.get_by_role("link", name=re.compile(NEW_NAME))).to_be_visible()
    expect(live_results).not_to_contain_text("北京长城贸易有限公司")
    assert _still_marked(page), "the live search reloaded the whole page"
    live_results.get_by_role("link", name=re.compile(NEW_NAME)).click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))

    # Logging an interaction swaps the timeline in place.
    timeline = page.locator("#panel-interactions")
    expect(timeline).to_contain_text("No interactions logged yet.")
    _mark_page(page)
    timeline.get_by_role("button", name="Log an interaction").click()
    form = timeline.locator("#interaction-form")
    expect(form).to_be_visible()
    form.locator("#id_kind").select_option(Interaction.Kind.VISIT)
    form.locator("#id_subject").fill("首次拜访：了解采购需求")
    form.locator("#id_outcome").fill("They buy for 40 staff; send a quote by Friday.")
    form.get_by_role("button", name="Save interaction").click()

    expect(timeline.get_by_role("status")).to_have_text("Interaction logged.")
    expect(timeline.locator(".timeline")).to_contain_text("首次拜访：了解采购需求")
    expect(timeline.locator(".timeline")).to_contain_text("send a quote by Friday")
    assert _still_marked(page), "logging an interaction reloaded the whole page instead of swapping the timeline"
    assert customer.interactions.get().subject == "首次拜访：了解采购需求"

    page.reload()
    expect(page.locator("#panel-interactions .timeline")).to_contain_text("首次拜访：了解采购需求")
    expect(page.locator("#panel-interactions")).not_to_contain_text("No interactions logged yet.")
    assert not console_problems(page), f"the browser console reported problems: {console_problems(page)}"


def test_typing_part_of_a_chinese_name_filters_the_customer_list_in_place(logged_in_page, owner):
    CustomerFactory(name=NEW_NAME, owner=owner)
    CustomerFactory(name="北京长城贸易有限公司", owner=owner)
    CustomerFactory(name="Shenzhen Bright Lights Trading", owner=owner)
    page = logged_in_page(owner)
    page.goto("/customers/")
    results = page.locator("#customer-results")
    expect(results).to_contain_text("3 customers")
    _mark_page(page)

    # Playwright enters characters that are not on a US keyboard without key presses, as a paste,
    # autofill or some phone keyboards do: the list must follow what is in the box, not the keys.
    page.locator("#id_q").press_sequentially("云栖科技", delay=50)

    expect(results.get_by_role("link", name=NEW_NAME)).to_be_visible()
    expect(results.get_by_role("link", name="北京长城贸易有限公司")).to_have_count(0)
    expect(results).to_contain_text("1 customer")
    assert _still_marked(page), "filtering the list reloaded the whole page"
    expect(page, "the filtered list's address should be shareable").to_have_url(re.compile(r"[?&]q=%E4%BA%91"))


def test_phone_sized_screen_hides_the_menu_and_nothing_scrolls_sideways(logged_in_page, owner):
    for number in range(30):
        CustomerFactory(
            name=f"广州市天河区珠江新城国际贸易发展有限公司第{number}分公司",
            email=f"procurement.department.{number}@a-rather-long-company-domain.example.com",
            owner=owner,
        )
    customer = Customer.objects.first()
    page = logged_in_page(owner, viewport=PHONE)

    page.goto("/customers/")
    sidebar = page.locator("#sidebar")
    expect(sidebar).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(sidebar).to_be_visible()
    expect(sidebar.get_by_role("link", name="My tasks")).to_be_in_viewport()
    sidebar.get_by_role("button", name="Close").click()
    expect(sidebar).to_be_hidden()

    for address in ("/customers/", f"/customers/{customer.pk}/", "/customers/create/", "/tasks/", "/"):
        page.goto(address)
        assert overflow_width(page) <= 1, f"{address} is {overflow_width(page)}px wider than a 390px-wide phone"


def test_language_switch_in_the_top_bar_changes_the_page_language(logged_in_page, owner):
    page = logged_in_page(owner)
    page.goto("/customers/")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.locator(".topbar").get_by_role("button", name="简体中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page, "switching language should stay on the same page").to_have_url(re.compile(r"/customers/$"))
    page.locator("#sidebar a[href='/tasks/']").click()
    expect(page, "the chosen language should stick").to_have_url(re.compile(r"/tasks/$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")

    page.locator(".topbar").get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(re.compile(r"/tasks/$"))
    expect(page.locator("h1")).to_have_text("My tasks")


def test_task_planned_on_the_customer_page_is_marked_done_from_my_tasks(logged_in_page, owner):
    customer = CustomerFactory(name="苏州工业园区精工制造有限公司", owner=owner)
    page = logged_in_page(owner)
    page.goto(customer.get_absolute_url())

    tasks_panel = page.locator("#panel-tasks")
    expect(tasks_panel).to_contain_text("No open tasks.")
    _mark_page(page)
    tasks_panel.get_by_role("button", name="Plan a task").click()
    form = tasks_panel.locator("#task-form")
    expect(form).to_be_visible()
    form.locator("#id_title").fill("Send the revised quote")
    expect(form.locator("#id_due_date"), "the due date should default to tomorrow").not_to_have_value("")
    # Wait for the server's answer to the htmx post before looking at the swapped panel.
    with page.expect_response(lambda response: "/tasks/create/" in response.url) as answer:
        form.get_by_role("button", name="Save task").click()
    assert answer.value.status == 200, answer.value.status

    expect(tasks_panel.locator(".task-row")).to_contain_text("Send the revised quote")
    expect(tasks_panel).not_to_contain_text("No open tasks.")
    assert _still_marked(page), "planning a task reloaded the whole page instead of swapping the panel"
    task = Task.objects.get(title="Send the revised quote")
    assert (task.customer, task.owner, task.done) == (customer, owner, False)

    page.locator("#sidebar").get_by_role("link", name="My tasks").click()
    # htmx binds its handlers on load; a click before that is a plain post (which also works).
    page.wait_for_url(re.compile(r"/tasks/$"))
    page.wait_for_load_state("load")
    row = page.locator(f"#task-{task.pk}")
    expect(row).to_contain_text("Send the revised quote")
    expect(row.get_by_role("link", name=customer.name)).to_be_visible()
    row.get_by_role("button", name="Mark done").click()
    expect(row.get_by_role("button", name="Open again")).to_be_visible()
    expect(row).to_have_class(re.compile(r"text-decoration-line-through"))
    task.refresh_from_db()
    assert task.done

    page.get_by_role("link", name=re.compile(r"^Done")).click()
    expect(page.locator(f"#task-{task.pk}")).to_contain_text("Send the revised quote")
    page.get_by_role("link", name=re.compile(r"^Open")).click()
    expect(page.locator(f"#task-{task.pk}")).to_have_count(0)
