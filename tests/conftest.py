import os

import pytest
from django.core.cache import cache

from customers import roles
from tests.factories import TeamFactory, UserFactory

# Playwright's sync API runs an event loop in the test thread; Django must still allow ORM calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Browser fixtures (Chromium through Playwright) for every app's browser tests.
pytest_plugins = ["tests.browser"]

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (filter choices are cached between requests)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def team_manager(db):
    return UserFactory(username="teamlead", roles=[roles.SALES_MANAGER])


@pytest.fixture
def owner(db, team_manager):
    """A sales rep in team_manager's team; owns the customers the tests make for them."""
    user = UserFactory(username="owner", roles=[roles.SALES_REP])
    TeamFactory(name="East", manager=team_manager, members=[user])
    return user


@pytest.fixture
def teammate(db, team_manager, owner):
    user = UserFactory(username="teammate", roles=[roles.SALES_REP])
    team_manager.managed_teams.get().members.add(user)
    return user


@pytest.fixture
def outsider(db):
    """A sales rep in another team: sees none of owner's customers."""
    user = UserFactory(username="outsider", roles=[roles.SALES_REP])
    TeamFactory(name="West", members=[user])
    return user


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", roles=[roles.MANAGER])


@pytest.fixture
def service_agent(db):
    return UserFactory(username="agent", roles=[roles.SERVICE_AGENT])


@pytest.fixture
def marketer(db):
    return UserFactory(username="marketer", roles=[roles.MARKETING])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="crmadmin", roles=[roles.ADMIN], is_staff=True)


@pytest.fixture
def login(client):
    """login(user) logs the test client in as that user and returns the client."""

    def _login(user):
        client.force_login(user, backend=MODEL_BACKEND)
        return client

    return _login
