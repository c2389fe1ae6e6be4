"""The answer pipeline: one customer message in, one recorded reply out.

`turn` is the whole turn and reads as its table of contents; `answer` is the
part that only reads (evaluation replays it without writing anything). The
stages, in the order they run, are STAGES; any stage may end the turn with a
reply kind, and `record` writes whatever reply the turn ended with.

The question is embedded once; every stage that needs its meaning reuses
that vector.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from core import embeddings, events
from core.choices import GuardDecision, Priority, Reason
from core.choices import ReplyKind as Kind
from core.events import AlertKind
from core.text import estimate_tokens, normalize_question
from flows import selectors as flow_selectors
from guardrails.sanitize import sanitize
from guardrails.scoring import score_message
from knowledge import selectors
from knowledge.models import KnowledgeState
from support import hours
from support.models import Conversation, Message
from support.pipeline import (
    compose,
    confidence,
    lexicon,
    llm,
    output,
    polarity,
    policy,
    read,
    record,
    triggers,
    verify,
)
from support.pipeline import flow as flow_stage
from support.pipeline.types import Reply, Turn
from support.reader import confidence as confidence_model
from support.reader import cross_encoder, yes_no
from support.reader import model as reader_model
from support.selectors import CitedSource

# The stages of one turn, in the order they run; docs/architecture.md lists the same (tested).
STAGES = (
    "admit",
    "policy",
    "guard",
    "embed",
    "injection",
    "triggers",
    "flow",
    "approved",
    "retrieval",
    "read",
    "compose",
    "verify",
    "output",
    "record",
)

FINGERPRINT_SETTINGS = (
    "CHAT_RETRIEVAL_K",
    "CHAT_CONTEXT_TOKEN_BUDGET",
    "CHAT_MAX_ANSWER_SENTENCES",
    "APPROVED_MATCH_THRESHOLD",
    "READER_MIN_ANSWERABLE",
    "READER_MAX_SUPPORTING",
    "READER_SUPPORT_RATIO",
    "READER_DOCUMENT_VOTES",
    "READER_CROSS_ENCODER_CANDIDATES",
    "READER_LATE_CANDIDATES",
    "READER_LATE_WEIGHT",
    "READER_LATE_VOTE",
    "SEARCH_MIN_COSINE",
    "SEARCH_CANDIDATES",
    "SEARCH_HNSW_EF_SEARCH",
    "EMBEDDING_MODEL_PATH",
    "EMBEDDING_BACKEND",
    "LLM_BASE_URL",
    "LLM_MODEL",
    "LLM_PROMPT_VERSION",
)

NO_ANSWER_TEXT = "I couldn't find this in our verified help articles, so I won't guess. {handover}"
BLOCKED_TEXT = (
    "Sorry, I can't help with that request. I can answer questions from our help articles — "
    "or hand you to a person with “Talk to a person”."
)
DEPENDS_TEXT = (
    "Whether this applies depends on your situation. Could you tell me a little more about it, so I can "
    "check it against the rule above? Or choose “Talk to a person”."
)
CLARIFY_TEXT = (
    "Could you tell me a bit more about what you need? Ask it as a whole question, the way you would ask "
    "a person at our help desk."
)


def config_fingerprint() -> str:
    values = {name: getattr(settings, name, None) for name in FINGERPRINT_SETTINGS}
    values["composer"] = llm.composer_name() if llm.enabled() else compose.EXTRACTIVE
    values["reader"] = reader_model.digest()
    values["yes_no"] = yes_no.digest()
    values["confidence"] = confidence_model.digest()
    values["cross_encoder"] = cross_encoder.digest() if settings.READER_CROSS_ENCODER_CANDIDATES > 0 else ""
    values["token_projection"] = embeddings.token_tag().hex() if settings.READER_LATE_CANDIDATES > 0 else ""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:12]


@contextmanager
def _stage(turn: Turn, name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        # a stage timed in two parts (the flow's: under way, then starting) adds up
        turn.stage_ms[name] = round(turn.stage_ms.get(name, 0.0) + (time.perf_counter() - start) * 1000, 2)


def _escalate(text: str, reason: str, **signals) -> Reply:
    return Reply(
        kind=Kind.ESCALATED,
        text=text,
        reason=reason,
        escalate=True,
        priority=Priority.NORMAL,
        detail=signals.get("why", ""),
    )


@dataclass
class TurnResult:
    conversation: Conversation
    customer_message: Message
    reply: Message | None  # None while a person owns the conversation
    new_token: str | None = None  # set when the old conversation had closed and a new one began
    # The reply's citations as recorded, from the passages the pipeline cited: the API shows them
    # without reading back what this turn just wrote.
    citations: list[CitedSource] = field(default_factory=list)
    stage_ms: dict[str, float] = field(default_factory=dict)  # every stage that ran, in order


def turn(*, conversation: Conversation, text: str, ip: str = "", now=None) -> TurnResult:
    """One customer message, from the rate limits to the recorded reply.

    The rate limits raise ApplicationError (429) before anything is written."""
    now = now or timezone.now()
    state = Turn(text="", deadline=time.monotonic() + settings.CHAT_TURN_DEADLINE_SECONDS)
    with _stage(state, "admit"):
        conversation, new_token = policy.admit(conversation=conversation, ip=ip, now=now)
    if conversation.status == Conversation.Status.HUMAN:
        # A person owns the conversation: the bot stays silent, but the guard still scores the
        # message (an injection aimed at the agent is as much an attack), so the console shows
        # the flag and reviewers see the security event.
        with _stage(state, "guard"):
            state.text = sanitize(text)
        with _stage(state, "embed"):
            state.vector = embeddings.embed_query(normalize_question(state.text) or state.text)
        with _stage(state, "injection"):
            state.guard = score_message(state.text, state.vector)
        message = record.customer_only_record(conversation=conversation, text=state.text, now=now, guard=state.guard)
        conversation.refresh_from_db()
        return TurnResult(conversation, message, None, new_token, stage_ms=state.stage_ms)
    state, reply = answer(text=text, conversation=conversation, now=now, state=state)
    if state.flow_repeat and not reply.escalate and reply.kind != Kind.FLOW:
        # A question asked in the middle of a flow was answered; the flow asks its question again.
        reply.text = f"{reply.text}\n\n{state.flow_repeat}"
    customer_text = state.text or text[: settings.CHAT_MAX_MESSAGE_CHARS]
    with _stage(state, "record"):
        bot = record.reply_record(
            conversation=conversation,
            customer_text=customer_text,
            turn=state,
            reply=reply,
            now=now,
            fingerprint=config_fingerprint(),
        )
    citations = [
        CitedSource(p.n, p.document_id, p.version_title, p.version_number, p.chunk_id, p.heading_path, p.quote)
        for p in reply.passages
    ]
    return TurnResult(conversation, bot.reply_to, bot, new_token, citations, state.stage_ms)


def answer(*, text: str, conversation=None, now=None, state: Turn | None = None) -> tuple[Turn, Reply]:
    """The stages from policy to output, which only read. `conversation` may be None (evaluation)."""
    now = now or timezone.now()
    handover = hours.handover_message(now)
    no_answer = NO_ANSWER_TEXT.format(handover=handover)
    turn = state or Turn(text="")
    if turn.deadline is None:
        turn.deadline = time.monotonic() + settings.CHAT_TURN_DEADLINE_SECONDS

    with _stage(turn, "policy"):
        budget_spent = False
        if conversation is not None:
            limit, budget_spent = policy.check(conversation)
            if limit is not None:
                return turn, limit
        turn.budget_exhausted = budget_spent

    with _stage(turn, "guard"):
        turn.text = sanitize(text)
        # Spacing and end punctuation do not change the question: every stage
        # below sees the normalised form, so equal questions get equal answers.
        question = normalize_question(turn.text) or turn.text

    with _stage(turn, "embed"):
        turn.vector = embeddings.embed_query(question, keep_tokens=True)  # the reader matches its tokens

    with _stage(turn, "injection"):
        guard_result = score_message(turn.text, turn.vector)
        turn.guard = guard_result
        turn.signals["guard"] = {
            "decision": guard_result.decision,
            "score": round(guard_result.score, 4),
            "pattern_id": guard_result.pattern_id,
            "category": guard_result.category,
        }
    if guard_result.decision == GuardDecision.BLOCKED:
        return turn, Reply(kind=Kind.BLOCKED, text=BLOCKED_TEXT, reason=Reason.GUARD)

    with _stage(turn, "triggers"):
        reply = triggers.check(question, handover=handover, vector=turn.vector)
    if reply is not None:
        return turn, reply

    flowing = conversation is not None and guard_result.decision != GuardDecision.FLAGGED
    with _stage(turn, "flow"):
        step = (
            flow_stage.advance(conversation, turn.text, vector=turn.vector, handover=handover, deadline=turn.deadline)
            if flowing
            else None
        )
    if step is not None:
        turn.flow, turn.flow_left, turn.signals["flow"] = step.update, step.left, step.signals
        if step.reply is not None:
            return turn, step.reply
        turn.flow_repeat = step.repeat

    with _stage(turn, "approved"):
        matches = selectors.approved_matches(vector=turn.vector, now=now, limit=1)
        if matches:
            turn.signals["approved_best"] = {
                "version_id": matches[0].version_id,
                "similarity": round(matches[0].similarity, 4),
            }
    approved_ok = bool(matches) and matches[0].similarity >= settings.APPROVED_MATCH_THRESHOLD
    if flowing and step is None:
        # No flow under way: a flow whose trigger examples match better than any approved answer starts.
        with _stage(turn, "flow"):
            trigger = flow_selectors.trigger_match(vector=turn.vector)
            if trigger is not None:
                turn.signals["flow_trigger"] = {
                    "flow": trigger.name,
                    "score": round(trigger.score, 4),
                    "similarity": round(trigger.similarity, 4),
                }
            started = None
            # Cosine against cosine: an approved answer at least as close as the flow's examples wins.
            if trigger is not None and not (approved_ok and matches[0].similarity >= trigger.similarity):
                started = flow_stage.start(trigger.version_id, turn.text, handover=handover, deadline=turn.deadline)
        if started is not None and started.reply is not None:
            turn.flow, turn.signals["flow"] = started.update, started.signals
            return turn, started.reply
    if approved_ok:
        best = matches[0]
        return turn, Reply(
            kind=Kind.APPROVED, text=best.text, reason=Reason.APPROVED, approved_version_id=best.version_id
        )

    if guard_result.decision == GuardDecision.FLAGGED:
        # A suspicious message gets nothing composed for it: an approved answer or a person.
        return turn, _escalate(no_answer, Reason.GUARD, why="guard_flag")
    if turn.budget_exhausted:
        return turn, _escalate(no_answer, Reason.LIMIT, why="daily_budget")

    with _stage(turn, "retrieval"):
        vague = lexicon.is_vague(question)
        generation = KnowledgeState.current()
        hits = (
            []
            if vague
            else selectors.chunk_search(
                query=question, vector=turn.vector, k=settings.CHAT_RETRIEVAL_K, generation=generation
            )
        )
    turn.signals["retrieved"] = [
        {
            "chunk_id": h.chunk_id,
            "version_id": h.version_id,
            "cosine": round(h.cosine, 4),
            "rrf": round(h.score, 5),
            "vector_rank": h.vector_rank,
            "text_rank": h.text_rank,
        }
        for h in hits
    ]
    if vague:
        return turn, Reply(kind=Kind.CLARIFY, text=CLARIFY_TEXT, reason=Reason.VAGUE)

    with _stage(turn, "read"):
        reading = read.read(question, turn.vector, hits, generation)
        passages = read.quote(reading, hits) if reading.answerable else []
    turn.signals["reader"] = reading.as_signals()
    if not reading.answerable:
        why = "nothing_retrieved" if not hits else "not_answerable"
        return turn, _escalate(no_answer, Reason.NO_ANSWER, why=why)
    if not passages:
        return turn, _escalate(no_answer, Reason.NO_ANSWER, why="nothing_kept")
    context_tokens = sum(estimate_tokens(p.quote) for p in passages)
    turn.signals["context_tokens"] = context_tokens
    decision = None
    asked = polarity.asks_yes_no(question, turn.vector)
    if asked:
        decision = polarity.decide(question, read.statement(reading, hits), reading.terms)
        turn.signals["yes_no"] = decision.as_signals()
    gate = confidence_model.load()
    if gate is not None:
        # A reply that quotes a rule, to answer or to ask about the customer's case, goes out only when
        # the turn, read whole, is likely to be right (support/pipeline/confidence.py). The gate learned
        # from answers; a clarifying reply is scored as the quote it is, an answer without a yes or no.
        chosen = read.answer_candidate(reading)
        clarifies = decision is not None and decision.verdict == polarity.DEPENDS
        as_asked, as_decided = (False, None) if clarifies else (asked, decision)
        p = gate.p(confidence.features(question, turn.vector, reading, hits, chosen, passages, as_asked, as_decided))
        limit = read.answer_threshold(gate)
        turn.signals["confidence"] = {"p": round(p, 4), "threshold": limit}
        if p < limit:
            return turn, _escalate(no_answer, Reason.NO_ANSWER, why="low_confidence")

    with _stage(turn, "compose"):
        budget_left = (
            settings.CHAT_CONVERSATION_TOKEN_BUDGET - conversation.tokens_used if conversation is not None else None
        )
        draft, meta = _compose(turn, question, passages, generation, budget_left)

    with _stage(turn, "verify"):
        model_written = meta.composer != compose.EXTRACTIVE
        checked = verify.verify(draft, passages, embed=embeddings.embed_passages if model_written else None)
        if model_written and (checked.kept == 0 or len(checked.dropped) > checked.kept):
            # The model's answer did not hold up against its passages: fall back to the extractive one.
            turn.signals["llm_fallback"] = {"error": "answer failed verification", "dropped": checked.dropped}
            meta = _ComposeMeta(compose.EXTRACTIVE, meta.tokens_in, meta.tokens_out, meta.attempts)
            checked = verify.verify(compose.compose_extractive(passages), passages)
        turn.signals["verify"] = {"kept": checked.kept, "dropped": checked.dropped}
    if checked.kept == 0 or len(checked.dropped) > checked.kept:
        return turn, _escalate(no_answer, Reason.NO_ANSWER, why="unsupported_answer")
    cited = [p for p in passages if p.n in checked.cited]
    renumber = {p.n: i + 1 for i, p in enumerate(cited)}
    text_out = compose.CITATION.sub(lambda m: f" [{renumber.get(int(m.group(1)), m.group(1))}]", checked.text)
    for p in cited:
        p.n = renumber[p.n]

    # A yes/no question gets its yes or no first; when the rule turns on a condition the customer
    # has not stated, the rule is quoted and the customer asked, never guessed for. (An LLM composer
    # words its own answer.)
    verdict = decision.verdict if decision is not None and meta.composer == compose.EXTRACTIVE else None
    depends = verdict == polarity.DEPENDS
    if depends:
        text_out = f"{text_out}\n\n{DEPENDS_TEXT}"
    elif verdict is not None:
        text_out = f"{polarity.lead(verdict)} {text_out}"

    with _stage(turn, "output"):
        issue = output.check(text_out, cited, canary=llm.canary(), question=turn.text)
    if issue is not None:
        turn.signals["output_issue"] = {"code": issue.code, "detail": issue.detail}
        events.alert(AlertKind.OUTPUT_SUPPRESSED, f"A reply was suppressed: {issue.detail}", code=issue.code)
        return turn, _escalate(no_answer, Reason.OUTPUT_CHECK, why=issue.code)

    return turn, Reply(
        kind=Kind.CLARIFY if depends else Kind.GROUNDED,
        text=text_out,
        reason=Reason.GROUNDED,
        detail="condition_unstated" if depends else "",
        passages=cited,
        composer=meta.composer,
        tokens_in=meta.tokens_in or context_tokens,
        tokens_out=meta.tokens_out or estimate_tokens(text_out),
        attempts=meta.attempts,
    )


class _ComposeMeta:
    def __init__(self, composer: str, tokens_in: int = 0, tokens_out: int = 0, attempts: int = 0):
        self.composer, self.tokens_in, self.tokens_out, self.attempts = composer, tokens_in, tokens_out, attempts


def _compose(turn: Turn, question: str, passages, generation: int, budget_left: int | None) -> tuple[str, _ComposeMeta]:
    extractive = compose.compose_extractive(passages)
    if not llm.enabled():
        return extractive, _ComposeMeta(compose.EXTRACTIVE)
    if budget_left is not None and llm.estimate_call_tokens(turn.text, passages) > budget_left:
        turn.signals["llm_skipped"] = "conversation token budget"
        return extractive, _ComposeMeta(compose.EXTRACTIVE)
    key = llm.cache_key(question.lower(), passages, generation, config_fingerprint())
    cached = cache.get(key)
    if cached is not None:
        turn.signals["llm_cache"] = "hit"
        return cached, _ComposeMeta(llm.composer_name())
    try:
        # the model reads the customer's own wording, for no longer than the turn has left
        result = llm.complete(turn.text, passages, deadline=turn.deadline)
    except llm.LLMUnavailable as exc:
        turn.signals["llm_fallback"] = {"error": str(exc)[:200], "attempts": exc.attempts}
        return extractive, _ComposeMeta(compose.EXTRACTIVE, attempts=exc.attempts)
    if result.text.strip() == "NO_ANSWER" or not compose.CITATION.search(result.text):
        turn.signals["llm_fallback"] = {"error": "no cited answer from the model", "attempts": result.attempts}
        return extractive, _ComposeMeta(compose.EXTRACTIVE, result.tokens_in, result.tokens_out, result.attempts)
    if settings.LLM_CACHE_SECONDS:
        cache.set(key, result.text, settings.LLM_CACHE_SECONDS)
    return result.text, _ComposeMeta(llm.composer_name(), result.tokens_in, result.tokens_out, result.attempts)
