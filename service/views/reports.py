"""Views of the service app: reports."""

urlpatterns = []
