"""Views of the sales app: leads."""

urlpatterns = []
