from django.urls import path

from guardrails import views

app_name = "guardrails"
urlpatterns = [
    path("", views.events, name="events"),
    path("<int:pk>/add-pattern/", views.add_pattern, name="add-pattern"),
    path("<int:pk>/reviewed/", views.mark_reviewed, name="reviewed"),
]
