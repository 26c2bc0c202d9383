"""Views of the sales app: reports."""

urlpatterns = []
