"""Views of the service app: surveys."""

urlpatterns = []
