"""Views of the sales app: pool."""

urlpatterns = []
