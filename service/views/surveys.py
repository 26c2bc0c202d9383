"""Views of the service app: surveys. The public answer page lives here; its URL is in service/public_urls.py."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.shortcuts import render
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from ..forms.surveys import SurveyResponseForm
from ..services import surveys as survey_services
from ..services.surveys import SurveyClosed, TokenState

# Requests one address may make to survey links in a window: plenty for a person (even one who
# reloads after a validation error), too few to guess tokens.
RATE_LIMIT = 30
RATE_WINDOW_SECONDS = 600

STATUS_FOR_STATE = {TokenState.ANSWERED: 200, TokenState.EXPIRED: 410, TokenState.UNKNOWN: 404}

urlpatterns = []


def _client_address(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client says unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _over_rate_limit(request) -> bool:
    limit = getattr(settings, "CRM_SURVEY_RATE_LIMIT", RATE_LIMIT)
    key = f"survey-rate:{_client_address(request)}"
    # add() starts the window only once; incr() counts atomically in Redis (and locmem).
    cache.add(key, 0, RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        cache.add(key, 1, RATE_WINDOW_SECONDS)
        count = 1
    return count > limit


def _about(invitation) -> dict:
    return {"ticket": invitation.ticket, "order": invitation.order} if invitation else {}


@login_not_required
@csrf_protect
@require_http_methods(["GET", "POST"])
def survey_answer(request, token):
    """The customer's survey: a clear page for every state of the link, never an error page."""
    company = survey_services.company_name()
    if _over_rate_limit(request):
        return render(
            request, "service/public/survey_closed.html", {"company": company, "state": "limited"}, status=429
        )
    invitation = survey_services.invitation_for_token(token)
    state = survey_services.token_state(invitation)
    if state != TokenState.OPEN:
        context = {"company": company, "state": state, **_about(invitation)}
        return render(request, "service/public/survey_closed.html", context, status=STATUS_FOR_STATE[state])
    form = SurveyResponseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            survey_services.survey_record_response(invitation=invitation, answers=form.cleaned_data)
        except SurveyClosed as closed:
            state = closed.args[0] if closed.args else TokenState.ANSWERED
            context = {"company": company, "state": state, **_about(invitation)}
            return render(request, "service/public/survey_closed.html", context, status=STATUS_FOR_STATE[state])
        return render(request, "service/public/survey_thanks.html", {"company": company, **_about(invitation)})
    context = {"company": company, "form": form, "invitation": invitation, **_about(invitation)}
    return render(request, "service/public/survey_answer.html", context)
