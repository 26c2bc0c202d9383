"""Views of the sales app: opportunities."""

urlpatterns = []
