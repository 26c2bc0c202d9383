"""The public survey page `/survey/<token>/`: no login (listed in tests/test_urls.py PUBLIC)."""

app_name = "survey"

urlpatterns = []
