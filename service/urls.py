from .views import reports, surveys, tickets

app_name = "service"

# Each area's views module declares its own patterns; this is the one list of the app.
urlpatterns = [*tickets.urlpatterns, *surveys.urlpatterns, *reports.urlpatterns]
