from django.urls import path

from . import views

app_name = "customers"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("tasks/", views.TaskListView.as_view(), name="task_list"),
    path("tasks/<int:pk>/toggle-done/", views.task_toggle_done, name="task_toggle_done"),
    path("jobs/", views.job_runs, name="job_runs"),
    path("customers/", views.CustomerListView.as_view(), name="list"),
    path("customers/create/", views.CustomerCreateView.as_view(), name="create"),
    path("customers/duplicates/", views.duplicate_list, name="duplicates"),
    path("customers/duplicates/merge/", views.customer_merge, name="merge"),
    path("customers/import/", views.import_start, name="import"),
    path("customers/import/<int:pk>/", views.import_detail, name="import_detail"),
    path("customers/import/<int:pk>/status/", views.import_status, name="import_status"),
    path("customers/<int:pk>/", views.CustomerDetailView.as_view(), name="detail"),
    path("customers/<int:pk>/update/", views.CustomerUpdateView.as_view(), name="update"),
    path("customers/<int:pk>/archive/", views.customer_archive, name="archive"),
    path("customers/<int:pk>/restore/", views.customer_restore, name="restore"),
    path("customers/<int:pk>/interactions/create/", views.interaction_create, name="interaction_create"),
    path("customers/<int:pk>/tasks/create/", views.task_create, name="task_create"),
    path("customers/<int:pk>/contacts/create/", views.contact_create, name="contact_create"),
    path("contacts/<int:pk>/update/", views.contact_update, name="contact_update"),
]
