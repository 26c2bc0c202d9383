from .views import leads, opportunities, order_imports, orders, pool, reports

app_name = "sales"

# Each area's views module declares its own patterns; this is the one list of the app.
urlpatterns = [
    *leads.urlpatterns,
    *opportunities.urlpatterns,
    *order_imports.urlpatterns,
    *orders.urlpatterns,
    *pool.urlpatterns,
    *reports.urlpatterns,
]
