from django.urls import path

from escalation import views

app_name = "console"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/claim/", views.claim, name="claim"),
    path("<int:pk>/release/", views.release, name="release"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/typing/", views.typing, name="typing"),
    path("<int:pk>/note/", views.note, name="note"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
    path("<int:pk>/transfer/", views.transfer, name="transfer"),
    path("replies/", views.problematic, name="problematic"),
    path("replies/<int:message_id>/correct/", views.correct, name="correct"),
    path("corrections/<int:pk>/accept/", views.correction_accept, name="correction-accept"),
    path("corrections/<int:pk>/reject/", views.correction_reject, name="correction-reject"),
]
