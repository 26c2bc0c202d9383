"""The "Survey responses" panel of the 360 page; `ServiceConfig.ready` calls `register_survey_panels()`."""

from django.db.models import Avg, Count, Q
from django.utils.translation import gettext_lazy as _

from customers.panels import MAIN, Panel, register
from sales import order_sections

from .models import SurveyInvitation, SurveyResponse
from .services.surveys import response_summaries

RESPONSE_LIMIT = 5


def survey_responses(request, customer) -> dict:
    """The customer's latest answers and their averages: three queries whatever the history."""
    responses = SurveyResponse.objects.filter(customer=customer).select_related("ticket", "order")
    totals = responses.order_by().aggregate(
        count=Count("pk"),
        satisfaction=Avg("overall_satisfaction"),
        promoters=Count("pk", filter=Q(likelihood_to_recommend__gte=9)),
        detractors=Count("pk", filter=Q(likelihood_to_recommend__lte=6)),
    )
    nps = round(100 * (totals["promoters"] - totals["detractors"]) / totals["count"]) if totals["count"] else None
    waiting = SurveyInvitation.objects.filter(
        customer=customer, responded_at__isnull=True, sent_at__isnull=False
    ).count()
    return {
        "survey_responses": response_summaries(responses[:RESPONSE_LIMIT]),
        "totals": totals,
        "nps": nps,
        "more": max(totals["count"] - RESPONSE_LIMIT, 0),
        "waiting": waiting,
    }


def order_survey_responses(request, order) -> dict:
    """The answers to the survey about one order (the order page already checked visibility)."""
    return {"survey_responses": response_summaries(order.survey_responses.all())}


def register_survey_panels() -> None:
    """Add the survey-responses panel to the customer 360 page and the survey section to the order page."""
    register(
        Panel("survey_responses", _("Survey responses"), "service/panels/surveys.html", survey_responses, 60, MAIN)
    )
    order_sections.register(
        order_sections.OrderSection("survey", "service/partials/order_surveys.html", order_survey_responses)
    )
