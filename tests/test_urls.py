"""Every URL in the URL conf asks an anonymous visitor to log in, except a short, explicit list.

The test walks the whole resolver (admin and namespaced includes too), so a view added later
that forgets login shows up here without anyone writing a test for it.
"""

import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.converters import UUIDConverter
from django.urls.resolvers import RegexPattern, RoutePattern

pytestmark = pytest.mark.django_db

# Views an anonymous visitor may reach, by URL name. Keep this short: anything added here is public.
PUBLIC = {
    "login": "the login page itself",
    "set_language": "switching language works before logging in (login page)",
    "admin:login": "the admin's own login page",
    "lead_capture:form": "the public lead-capture form a company links from its website (honeypot, rate limit)",
    "lead_capture:thanks": "the thank-you page after the public lead-capture form",
    "survey:answer": "customers answer a satisfaction survey from an emailed link, without an account",
}
APP_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"

_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
# A capturing group (named or not) in a regex pattern; nested groups are not used by our URL conf.
_REGEX_GROUP = re.compile(r"\((?:\?P<\w+>)?(?P<body>[^()]*)\)")


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", or the path template for unnamed patterns
    url: str
    callback: object

    def __str__(self):
        return f"{self.name} ({self.url})"


def _sample_for_converter(converter) -> str:
    # "1" matches int, str, slug and path converters, and is a plausible primary key.
    return str(uuid.UUID(int=1)) if isinstance(converter, UUIDConverter) else "1"


def _sample_for_regex(body: str) -> str:
    for candidate in ("1", "x"):
        if re.fullmatch(body, candidate):
            return candidate
    # An alternation of literal names, e.g. the admin's app_label group.
    first = body.split("|")[0]
    if re.fullmatch(body, first):
        return first
    raise AssertionError(f"Cannot build a sample value for the URL regex group {body!r}; extend the test.")


def _concrete(pattern) -> str:
    """A concrete path fragment matching one pattern of the URL conf."""
    text = str(pattern.pattern)
    if isinstance(pattern.pattern, RoutePattern):
        converters = pattern.pattern.converters
        return _ROUTE_PARAM.sub(lambda m: _sample_for_converter(converters[m.group("name")]), text)
    assert isinstance(pattern.pattern, RegexPattern), f"Unknown kind of URL pattern: {pattern!r}"
    text = text.removeprefix("^").removesuffix("$")
    text = _REGEX_GROUP.sub(lambda m: _sample_for_regex(m.group("body")), text)
    return text.replace("\\", "")


def _walk(patterns, prefix="/", namespace=None):
    for pattern in patterns:
        fragment = _concrete(pattern)
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace])) or None
            yield from _walk(pattern.url_patterns, prefix + fragment, inner)
        elif isinstance(pattern, URLPattern):
            name = (
                ":".join(filter(None, [namespace, pattern.name]))
                if pattern.name
                else f"<unnamed {prefix}{pattern.pattern}>"
            )
            yield Route(name=name, url=prefix + fragment, callback=pattern.callback)


ALL_ROUTES = list(_walk(get_resolver().url_patterns))
PROTECTED_ROUTES = [route for route in ALL_ROUTES if route.name not in PUBLIC]


def _login_pages_for(route):
    return (APP_LOGIN, ADMIN_LOGIN) if route.url.startswith("/admin/") else (APP_LOGIN,)


def _assert_login_redirect(response, route):
    assert response.status_code == 302, f"{route}: anonymous request got {response.status_code}, not a login redirect"
    location = urlsplit(response["Location"])
    assert location.path in _login_pages_for(route), f"{route}: redirected to {response['Location']}"
    assert location.query.startswith("next="), f"{route}: the login redirect does not carry ?next="
    assert location.query == f"next={quote(route.url)}", f"{route}: next= does not point back at {route.url}"


def test_the_walk_finds_every_part_of_the_url_conf():
    names = {route.name for route in ALL_ROUTES}
    # One from each include, so a broken walk cannot pass the other tests by finding nothing.
    assert {"login", "logout", "customers:list", "customers:detail", "admin:index", "admin:app_list"} <= names
    assert len(ALL_ROUTES) > 40


@pytest.mark.parametrize("route", ALL_ROUTES, ids=str)
def test_every_concrete_url_resolves_to_its_own_pattern(route):
    assert resolve(route.url).func is route.callback, f"{route.url} resolves to another view than {route.name}"


def test_the_public_allow_list_names_only_existing_urls():
    names = {route.name for route in ALL_ROUTES}
    assert set(PUBLIC) <= names


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=str)
def test_anonymous_get_is_redirected_to_login(client, route):
    _assert_login_redirect(client.get(route.url), route)


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=str)
def test_anonymous_post_is_redirected_to_login(client, route):
    _assert_login_redirect(client.post(route.url, {"name": "x"}), route)


def test_login_page_is_public(client):
    response = client.get(APP_LOGIN)
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_admin_login_page_is_public(client):
    assert client.get(ADMIN_LOGIN).status_code == 200


def test_language_can_be_switched_before_logging_in(client):
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": APP_LOGIN})
    assert response.status_code == 302
    assert response["Location"] == APP_LOGIN
    assert response.cookies["django_language"].value == "zh-hans"
