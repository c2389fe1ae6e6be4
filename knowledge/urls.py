from django.urls import path

from knowledge import answer_views, source_views, views

app_name = "knowledge"
urlpatterns = [
    path("", views.document_list, name="documents"),
    path("upload/", views.upload, name="upload"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<int:pk>/retry/", views.job_retry, name="job-retry"),
    path("documents/<int:pk>/", views.document_detail, name="document"),
    path("documents/<int:pk>/retire/", views.document_retire, name="retire"),
    path("documents/<int:pk>/restore/", views.document_restore, name="restore"),
    path("documents/<int:pk>/source-key/", views.document_source_key, name="source_key"),
    path("documents/<int:pk>/versions/<int:number>/diff/", views.version_diff, name="diff"),
    path("documents/<int:pk>/versions/<int:number>/verify/", views.version_verify, name="verify"),
    path("sources/", source_views.source_list, name="sources"),
    path("sources/new/", source_views.source_new, name="source-new"),
    path("sources/<int:pk>/", source_views.source_detail, name="source"),
    path("sources/<int:pk>/run/", source_views.source_run, name="source-run"),
    path("sources/<int:pk>/verify/", source_views.source_verify, name="source-verify"),
    path("sources/<int:pk>/schedule/", source_views.source_schedule, name="source-schedule"),
    path("sources/<int:pk>/edit/", source_views.source_edit, name="source-edit"),
    path("sources/<int:pk>/delete/", source_views.source_delete, name="source-delete"),
    path("sources/<int:pk>/exclude/", source_views.source_exclude, name="source-exclude"),
    path("answers/", answer_views.answer_list, name="answers"),
    path("answers/new/", answer_views.answer_edit, name="answer-new"),
    path("answers/try/", answer_views.answer_try, name="answer-try"),
    path("answers/<int:pk>/", answer_views.answer_detail, name="answer"),
    path("answers/<int:pk>/edit/", answer_views.answer_edit, name="answer-edit"),
    path("answers/versions/<int:pk>/approve/", answer_views.version_approve, name="answer-approve"),
    path("answers/versions/<int:pk>/retire/", answer_views.version_retire, name="answer-retire"),
]
viewer_urlpatterns = [
    path("docs/<int:pk>/v<int:number>/", views.version_view, name="version_view"),
]
