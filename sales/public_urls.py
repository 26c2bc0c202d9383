"""The public lead-capture form: no login (listed in tests/test_urls.py PUBLIC)."""

app_name = "lead_capture"

urlpatterns = []
