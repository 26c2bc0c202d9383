"""Security settings and behaviour an operator relies on: deploy checks, CSRF, lockout, idle timeout, CSP, logout."""

import datetime
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers import services
from customers.models import Customer
from tests.conftest import MODEL_BACKEND
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent
LOGIN_URL = "/accounts/login/"


def new_customer_form(owner, **overrides):
    return {
        "kind": Customer.Kind.ORGANISATION,
        "name": "Secure Trading",
        "phone": "13800138000",
        "category": Customer.Category.CONSUMER,
        "relationship_level": Customer.RelationshipLevel.TRANSACTIONAL,
        "owner": owner.pk,
        **overrides,
    }


def is_logged_in(client):
    return "_auth_user_id" in client.session


# Deployment checks


def test_deploy_checks_pass_with_production_environment():
    # A clean environment: the test run's own variables (DJANGO_ALLOW_ASYNC_UNSAFE, test settings) stay out.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "DATABASE_URL") if key in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="crm_site.settings",
        # Explicitly false: a developer's .env with DEBUG=true must not leak into this check.
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="crm.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"check --deploy reported:\n{result.stdout}\n{result.stderr}"


# CSRF


def test_post_without_csrf_token_is_refused(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner, backend=MODEL_BACKEND)

    response = client.post(reverse("customers:create"), new_customer_form(owner))

    assert response.status_code == 403
    assert not Customer.objects.exists()


def test_post_with_csrf_token_from_the_form_is_accepted(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner, backend=MODEL_BACKEND)
    client.get(reverse("customers:create"))
    token = client.cookies[settings.CSRF_COOKIE_NAME].value

    response = client.post(reverse("customers:create"), {**new_customer_form(owner), "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert Customer.objects.get().name == "Secure Trading"


def test_htmx_post_with_csrf_header_is_accepted(owner):
    """base.html sends the token as X-CSRFToken on every htmx request."""
    customer = services.customer_create(actor=owner, data={"name": "Acme", "owner": owner, "phone": "13800138000"})
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner, backend=MODEL_BACKEND)
    page = client.get(customer.get_absolute_url()).content.decode()
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    form = {"kind": "call", "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "subject": "Called"}
    url = reverse("customers:interaction_create", args=[customer.pk])

    without = client.post(url, form, HTTP_HX_REQUEST="true")
    with_header = client.post(url, form, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=header_token)

    assert without.status_code == 403
    assert with_header.status_code == 200
    assert customer.interactions.count() == 1


def test_login_form_enforces_csrf(owner):
    client = Client(enforce_csrf_checks=True)

    response = client.post(LOGIN_URL, {"username": "owner", "password": PASSWORD})

    assert response.status_code == 403
    assert not is_logged_in(client)


# Login lockout (django-axes)


def failed_logins(client, username, times):
    for _ in range(times):
        response = client.post(LOGIN_URL, {"username": username, "password": "wrong-password"})
        assert not is_logged_in(client)
    return response


def test_login_works_with_the_right_password(client, owner):
    response = client.post(LOGIN_URL, {"username": "owner", "password": PASSWORD})

    assert response.status_code == 302
    assert is_logged_in(client)


def test_four_failed_logins_do_not_lock_the_user_out(client, owner):
    assert settings.AXES_FAILURE_LIMIT == 5
    failed_logins(client, "owner", 4)

    response = client.post(LOGIN_URL, {"username": "owner", "password": PASSWORD})

    assert response.status_code == 302
    assert is_logged_in(client)


def test_five_failed_logins_lock_the_user_out_even_with_the_right_password(client, owner):
    assert settings.AXES_ENABLED
    failed_logins(client, "owner", settings.AXES_FAILURE_LIMIT)

    response = client.post(LOGIN_URL, {"username": "owner", "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()
    assert not is_logged_in(client)
    assert client.get(reverse("customers:home"))["Location"].startswith(LOGIN_URL)


def test_lockout_of_one_user_name_does_not_block_another(client, owner, teammate):
    failed_logins(client, "owner", settings.AXES_FAILURE_LIMIT)

    response = client.post(LOGIN_URL, {"username": "teammate", "password": PASSWORD})

    assert response.status_code == 302
    assert is_logged_in(client)


# Idle timeout


def test_session_settings_give_an_idle_timeout():
    assert settings.SESSION_COOKIE_AGE == 60 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_COOKIE_HTTPONLY is True


def test_each_request_renews_the_session_and_idle_sessions_expire(client, owner, time_machine):
    start = datetime.datetime(2025, 3, 3, 9, 0, tzinfo=datetime.UTC)
    idle = datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    home = reverse("customers:home")
    time_machine.move_to(start, tick=False)
    client.force_login(owner, backend=MODEL_BACKEND)
    assert client.get(home).status_code == 200
    first_expiry = client.session.get_expiry_date()

    # Active 50 minutes later: the expiry moves on from this request.
    time_machine.move_to(start + datetime.timedelta(minutes=50), tick=False)
    assert client.get(home).status_code == 200
    assert client.session.get_expiry_date() - first_expiry == datetime.timedelta(minutes=50)

    # Past the first expiry, but within the idle time of the last request: still logged in.
    time_machine.move_to(start + datetime.timedelta(minutes=50) + idle - datetime.timedelta(minutes=1), tick=False)
    assert client.get(home).status_code == 200

    # Idle for longer than the timeout: logged out.
    time_machine.move_to(start + datetime.timedelta(minutes=50) + 2 * idle, tick=False)
    response = client.get(home)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


# Content-Security-Policy


def csp_directives(response):
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def test_csp_header_forbids_inline_scripts(login, owner):
    directives = csp_directives(login(owner).get(reverse("customers:home")))

    script_src = directives.get("script-src") or directives.get("default-src")
    assert script_src == ["'self'"]
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_login_page_has_the_csp_header_too(client):
    directives = csp_directives(client.get(LOGIN_URL))

    assert "'unsafe-inline'" not in directives.get("script-src", directives.get("default-src"))


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
_EVENT_HANDLER = re.compile(r"\s(on[a-z]+|hx-on[:\w-]*)\s*=", re.IGNORECASE)


def test_pages_contain_no_inline_script_the_csp_would_block(login, owner):
    customer = services.customer_create(actor=owner, data={"name": "Acme", "owner": owner, "phone": "13800138000"})
    client = login(owner)
    pages = [
        reverse("customers:home"),
        reverse("customers:list"),
        reverse("customers:create"),
        reverse("customers:task_list"),
        customer.get_absolute_url(),
        reverse("customers:update", args=[customer.pk]),
        reverse("customers:archive", args=[customer.pk]),
    ]
    for url in pages:
        html = client.get(url).content.decode()
        assert not _INLINE_SCRIPT.search(html), f"{url} has an inline <script>"
        assert not _EVENT_HANDLER.search(html), f"{url} has an inline event handler: {_EVENT_HANDLER.search(html)}"
        assert "javascript:" not in html, f"{url} has a javascript: URL"


# Logout


def test_logout_by_get_is_refused_and_keeps_the_session(login, owner):
    client = login(owner)

    response = client.get(reverse("logout"))

    assert response.status_code == 405
    assert is_logged_in(client)


def test_logout_by_post_ends_the_session(login, owner):
    client = login(owner)
    old_session_key = client.session.session_key

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert not is_logged_in(client)
    assert client.session.session_key != old_session_key
    assert client.get(reverse("customers:home"))["Location"].startswith(LOGIN_URL)
