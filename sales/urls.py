from .views import leads, opportunities, orders, pool, reports

app_name = "sales"

# Each area's views module declares its own patterns; this is the one list of the app.
urlpatterns = [
    *leads.urlpatterns,
    *opportunities.urlpatterns,
    *orders.urlpatterns,
    *pool.urlpatterns,
    *reports.urlpatterns,
]
