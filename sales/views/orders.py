"""Views of the sales app: orders."""

urlpatterns = []
