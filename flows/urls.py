from django.urls import path

from flows import views

app_name = "flows"
urlpatterns = [
    path("", views.flow_list, name="list"),
    path("new/", views.flow_edit, name="new"),
    path("import/", views.flow_import, name="import"),
    path("export/", views.flow_export, name="export"),
    path("<int:pk>/", views.flow_detail, name="detail"),
    path("<int:pk>/edit/", views.flow_edit, name="edit"),
    path("versions/<int:pk>/approve/", views.version_approve, name="approve"),
    path("versions/<int:pk>/retire/", views.version_retire, name="retire"),
]
