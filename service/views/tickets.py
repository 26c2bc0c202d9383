"""Views of the service app: tickets."""

urlpatterns = []
