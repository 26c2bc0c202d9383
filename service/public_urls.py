"""The public survey page `/survey/<token>/`: no login (listed in tests/test_urls.py PUBLIC)."""

from django.urls import path

from .views import surveys

app_name = "survey"

urlpatterns = [path("<str:token>/", surveys.survey_answer, name="answer")]
