from django.urls import path

from knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("", views.document_list, name="documents"),
    path("upload/", views.upload, name="upload"),
    path("jobs/", views.job_list, name="jobs"),
    path("documents/<int:pk>/", views.document_detail, name="document"),
    path("documents/<int:pk>/retire/", views.document_retire, name="retire"),
    path("documents/<int:pk>/restore/", views.document_restore, name="restore"),
    path("documents/<int:pk>/source-key/", views.document_source_key, name="source_key"),
    path("documents/<int:pk>/versions/<int:number>/diff/", views.version_diff, name="diff"),
    path("documents/<int:pk>/versions/<int:number>/verify/", views.version_verify, name="verify"),
]
viewer_urlpatterns = [
    path("docs/<int:pk>/v<int:number>/", views.version_view, name="version_view"),
]
