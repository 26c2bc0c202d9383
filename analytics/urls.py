from .views import alerts, base, churn, grades, products, pyramid, satisfaction

app_name = "analytics"

# Each area's views module declares its own patterns; this is the one list of the app.
urlpatterns = [
    *base.urlpatterns,
    *pyramid.urlpatterns,
    *churn.urlpatterns,
    *grades.urlpatterns,
    *alerts.urlpatterns,
    *satisfaction.urlpatterns,
    *products.urlpatterns,
]
