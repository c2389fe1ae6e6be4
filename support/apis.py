"""The chat API (what integrators and our widget use). Thin: parse, call a
service, serialise. Errors are JSON {"message", "code"} (core.errors)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError, ErrorCode
from core.net import client_ip
from support import selectors, services
from support.models import Conversation, Message


def bearer_token(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def conversation_for(request: Request, conversation_id) -> Conversation:
    token = bearer_token(request)
    if not token:
        raise ApplicationError(
            "Send the conversation token as 'Authorization: Bearer <token>'.", code=ErrorCode.FORBIDDEN
        )
    return services.access_conversation(conversation_id, token)


class CitationSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    version = serializers.IntegerField()
    chunk_id = serializers.IntegerField()
    heading = serializers.CharField()
    quote = serializers.CharField()
    url = serializers.CharField()


class ReplySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    text = serializers.CharField()
    citations = CitationSerializer(many=True)


class ConversationStateSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    turns_left = serializers.IntegerField()
    token = serializers.CharField(required=False, help_text="Only when a new conversation replaced a closed one.")


def citation_item(source: selectors.CitedSource) -> dict:
    url = reverse("version_view", args=[source.document_id, source.version])
    return {**source._asdict(), "url": f"{url}?chunk={source.chunk_id}#chunk-{source.chunk_id}"}


def citation_payload(message: Message) -> list[dict]:
    """A message's citations, from its prefetched rows (the transcript)."""
    return [
        citation_item(
            selectors.CitedSource(
                c.n, c.version.document_id, c.version.title, c.version.number, c.chunk_id, c.chunk.heading_path, c.quote
            )
        )
        for c in message.citations.all()
    ]


def reply_payload(message: Message | None, citations: list[dict] | None = None) -> dict | None:
    """A bot reply; `citations` when the caller has them already, else read from the message."""
    if message is None:
        return None
    if citations is None:
        citations = citation_payload(message)
    return {"id": message.pk, "kind": message.kind, "text": message.text, "citations": citations}


def conversation_payload(conversation: Conversation, token: str | None = None) -> dict:
    data = {"id": str(conversation.pk), "status": conversation.status, "turns_left": services.turns_left(conversation)}
    if token:
        data["token"] = token
    return data


class ConversationCreateApi(APIView):
    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "ConversationCreated", {"id": serializers.UUIDField(), "token": serializers.CharField()}
            )
        },
    )
    def post(self, request: Request) -> Response:
        created = services.conversation_create(channel="api", ip=client_ip(request))
        return Response({"id": str(created.conversation.pk), "token": created.token}, status=status.HTTP_201_CREATED)


class ConversationDetailApi(APIView):
    class TranscriptMessage(serializers.Serializer):
        id = serializers.IntegerField()
        role = serializers.CharField()
        kind = serializers.CharField()
        text = serializers.CharField()
        created_at = serializers.DateTimeField()
        citations = CitationSerializer(many=True)

    @extend_schema(
        responses={
            200: inline_serializer(
                "Transcript", {"conversation": ConversationStateSerializer(), "messages": TranscriptMessage(many=True)}
            )
        }
    )
    def get(self, request: Request, conversation_id) -> Response:
        conversation = conversation_for(request, conversation_id)
        messages = selectors.transcript(conversation=conversation)
        return Response(
            {
                "conversation": conversation_payload(conversation),
                "messages": [
                    {
                        "id": m.pk,
                        "role": m.role,
                        "kind": m.kind,
                        "text": m.text,
                        "created_at": m.created_at,
                        "citations": citation_payload(m),
                    }
                    for m in messages
                ],
            }
        )


class MessageCreateApi(APIView):
    class MessageInputSerializer(serializers.Serializer):
        text = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=100_000)

    @extend_schema(
        request=MessageInputSerializer,
        responses={
            200: inline_serializer(
                "TurnReply", {"reply": ReplySerializer(allow_null=True), "conversation": ConversationStateSerializer()}
            ),
            400: OpenApiResponse(description="bad input"),
            403: OpenApiResponse(description="missing token"),
            404: OpenApiResponse(description="no such conversation for this token"),
            413: OpenApiResponse(description="message too long"),
            429: OpenApiResponse(description="rate limited; see Retry-After"),
        },
    )
    def post(self, request: Request, conversation_id) -> Response:
        conversation = conversation_for(request, conversation_id)
        data = self.MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.message_post(
            conversation=conversation, text=data.validated_data["text"], ip=client_ip(request)
        )
        reply = None
        if result.reply is not None:
            reply = reply_payload(result.reply, [citation_item(c) for c in result.citations])
        return Response({"reply": reply, "conversation": conversation_payload(result.conversation, result.new_token)})


class FeedbackApi(APIView):
    class FeedbackInputSerializer(serializers.Serializer):
        message_id = serializers.IntegerField(required=False)
        thumbs = serializers.ChoiceField(choices=[1, -1], required=False)
        rating = serializers.IntegerField(required=False, min_value=1, max_value=5)
        comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)

        def validate(self, attrs):
            if "thumbs" in attrs and "message_id" not in attrs:
                raise serializers.ValidationError("thumbs needs message_id")
            if "thumbs" not in attrs and "rating" not in attrs:
                raise serializers.ValidationError("send thumbs (with message_id) or rating")
            return attrs

    @extend_schema(
        request=FeedbackInputSerializer,
        responses={200: inline_serializer("FeedbackOk", {"ok": serializers.BooleanField()})},
    )
    def post(self, request: Request, conversation_id) -> Response:
        conversation = conversation_for(request, conversation_id)
        data = self.FeedbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "thumbs" in values:
            services.feedback_thumbs(conversation=conversation, message_id=values["message_id"], value=values["thumbs"])
        if "rating" in values:
            services.feedback_rating(
                conversation=conversation, rating=values["rating"], comment=values.get("comment", "")
            )
        return Response({"ok": True})


class HandoffApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "Handoff", {"reply": ReplySerializer(), "conversation": ConversationStateSerializer()}
            )
        },
    )
    def post(self, request: Request, conversation_id) -> Response:
        conversation = conversation_for(request, conversation_id)
        message = services.handoff(conversation=conversation)
        conversation.refresh_from_db()
        return Response({"reply": reply_payload(message), "conversation": conversation_payload(conversation)})
