from django.urls import path

from insights import views

app_name = "insights"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export/<str:table>.csv", views.export_csv, name="export"),
    path("alerts/<int:pk>/resolve/", views.alert_resolve, name="alert-resolve"),
]
