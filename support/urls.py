from django.urls import path

from support import apis, views

app_name = "support"
api_urlpatterns = [
    path("conversations/", apis.ConversationCreateApi.as_view(), name="api-conversation-create"),
    path("conversations/<uuid:conversation_id>/", apis.ConversationDetailApi.as_view(), name="api-conversation"),
    path("conversations/<uuid:conversation_id>/messages/", apis.MessageCreateApi.as_view(), name="api-messages"),
    path("conversations/<uuid:conversation_id>/feedback/", apis.FeedbackApi.as_view(), name="api-feedback"),
    path("conversations/<uuid:conversation_id>/handoff/", apis.HandoffApi.as_view(), name="api-handoff"),
]
urlpatterns = [
    path("chat/", views.chat, name="chat"),
    path("chat/send/", views.chat_send, name="chat-send"),
    path("chat/poll/", views.chat_poll, name="chat-poll"),
    path("chat/feedback/<int:message_id>/", views.chat_thumbs, name="chat-thumbs"),
    path("chat/handoff/", views.chat_handoff, name="chat-handoff"),
    path("chat/rate/", views.chat_rate, name="chat-rate"),
    path("chat/new/", views.chat_new, name="chat-new"),
    path("chat/transcript/", views.chat_transcript, name="chat-transcript"),
    path("chat/contact/", views.chat_contact, name="chat-contact"),
    path("widget.js", views.widget_js, name="widget-js"),
    path("embed/", views.embed_demo, name="embed-demo"),
]
