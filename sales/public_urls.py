"""The public lead-capture form: no login (listed in tests/test_urls.py PUBLIC)."""

from django.urls import path

from .views.leads import lead_capture_form, lead_capture_thanks

app_name = "lead_capture"

urlpatterns = [
    path("new/", lead_capture_form, name="form"),
    path("new/thanks/", lead_capture_thanks, name="thanks"),
]
