"""Retrieval hit rate and answer quality on the public support sets (ConditionalQA, doc2dial).

What it measures, per set (/work/shared/benchmarks/support_qa/<set>/):
  1. Retrieval: for every question, knowledge.selectors.chunk_search(k=5,
     min_cosine=0.0) in hybrid, vector and text mode, the query embedded with
     core.embeddings.embed_query. hit@1 = the top chunk's document is the gold
     document; hit@5 two ways: "chunks" = the gold document is among the
     top-5 chunks' documents (what a chat turn's K=5 passages hold),
     "documents" = it is among the first 5 distinct documents of the top-20
     chunks (the usual reading of "document hit@5").
     ConditionalQA is searched with scenario + " " + question and with the
     question alone; doc2dial with its question. For doc2dial a question's
     gold documents are its `doc_ids` (4 questions list two identical pages);
     a "lenient" row also accepts `answer_span_also_in_doc_ids` (overlapping
     sections that contain the same span), as the set's README suggests.
  2. The answer pipeline: support.pipeline.run.answer(text=...) for every
     question (ConditionalQA: scenario + " " + question; messages over
     CHAT_MAX_MESSAGE_CHARS would be refused, so the scenario is cut so that
     the message fits and the question stays whole). Reported: the reply kinds
     of answerable and unanswerable questions, for answered replies whether
     the gold answer span occurs in the reply, whether an evidence sentence
     does (ConditionalQA), whether a gold document is cited, and the context
     tokens handed to the composer against pasting the whole documents of the
     top-5 retrieved chunks.
     Headline, one table per set: correct / wrong / escalated and the answered
     replies' median / p90 length in words, every reply scored by the one judge
     in support.judge (support.judge.judge; words-only matching).
     Gold: ConditionalQA spans = every `answers[].text` that is not yes/no,
     yes/no = the yes/no answers (both under different conditions: stating
     either is accepted), `answerable: false` rows unanswerable; split by
     answer_type (span / yes_no / none). doc2dial spans = [answer_span].

doc2dial split (--split, default heldout): "heldout" keeps only the questions
whose doc_ids are all in the "test" list of support/reader/split.json, the
documents the reader never trained on; "all" keeps every question. The
knowledge base is all 273 doc2dial documents either way, so retrieval must
still find the right page among all of them. ConditionalQA has no split.

Isolation: its own embedded PostgreSQL in var/bench-qa-pgdata (not the
developer's database, not bench/ingest.py's var/bench-pgdata), migrated at
start and stopped at the end. Both sets' documents are ingested once through
knowledge.services.version_ingest(verify=True) as "# {title}\\n\\n{text}" and
kept; while one set is measured the other set's documents are retired (with
knowledge.services.document_retire, so they are not searchable and the
reader's term statistics are rebuilt), so each set is searched on its own, as
if the tables held only that set. Reruns skip documents already ingested;
--reingest truncates the knowledge tables and ingests again.

Run from the project root:
  .venv/bin/python bench/public_qa.py [--set conditionalqa|doc2dial|all] [--split heldout|all]
      [--doc2dial-turns first|later] [--reingest] [--limit N] [--retrieval-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common
from support.judge import EITHER, YES_NO, Gold, Verdict, contains, headline_table, judge

PGDATA = _common.ROOT / "var" / "bench-qa-pgdata"
MODES = ("hybrid", "vector", "text")
PREFIX = {"conditionalqa": "cqa-", "doc2dial": "d2d-"}
READER_SPLIT = _common.ROOT / "support" / "reader" / "split.json"
LATER_TURNS = _common.ROOT / "support" / "reader" / "data" / "doc2dial_later_turns.jsonl"
# The answer settings printed with every run (those the running code defines; the same on every set).
SETTINGS_SHOWN = (
    "CHAT_RETRIEVAL_K",
    "SEARCH_MIN_COSINE",
    "READER_MODEL_PATH",
    "READER_MIN_ANSWERABLE",
    "READER_MAX_SUPPORTING",
    "READER_SUPPORT_RATIO",
    "READER_DOCUMENT_VOTES",
    "CHAT_MAX_ANSWER_SENTENCES",
    "CHAT_CONTEXT_TOKEN_BUDGET",
    "CHAT_MAX_MESSAGE_CHARS",
)

# The row of /work/shared/FINDINGS.md's naive baseline each variant is compared with.
BASELINE_NOTE = {
    "conditionalqa": "heading path + body",
    "conditionalqa-question-only": "body only",
    "doc2dial": "heading path + body",
}
BASELINES = {name: _common.FINDINGS_BASELINES[(name, note)] for name, note in BASELINE_NOTE.items()}


# --- Data ------------------------------------------------------------------------------------


def load_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_set(name: str) -> tuple[list[dict], list[dict]]:
    folder = _common.DATA_DIR / name
    return load_jsonl(folder / "docs.jsonl"), load_jsonl(folder / "questions.jsonl")


def gold_keys(question: dict, *, lenient: bool = False) -> set[str]:
    ids = list(question["doc_ids"])
    if lenient:
        ids += question.get("answer_span_also_in_doc_ids") or []
    return {f"{doc_id}{suffix}" for doc_id in ids for suffix in (".md", ".txt")}


def chat_message(variant: str, question: dict, limit: int) -> tuple[str, bool]:
    """The customer's message and whether it was cut to fit the chat's length limit.

    ConditionalQA ("conditionalqa"): scenario + " " + question, the scenario cut
    so that the question stays whole; "question-only" and doc2dial: the question.
    """
    asked = question["question"].strip()
    if variant != "conditionalqa":
        return asked[:limit], len(asked) > limit
    scenario = question["scenario"].strip()
    text = f"{scenario} {asked}".strip()
    if len(text) <= limit:
        return text, False
    room = max(0, limit - len(asked) - 1)
    return f"{scenario[:room].rstrip()} {asked}".strip()[:limit], True


def heldout(questions: list[dict]) -> list[dict]:
    """doc2dial questions whose gold documents are all in the reader's held-out "test" documents."""
    test = set(json.loads(READER_SPLIT.read_text(encoding="utf-8"))["test"])
    return [q for q in questions if all(doc_id in test for doc_id in q["doc_ids"])]


def gold_of(question: dict) -> Gold:
    """The judge's gold for a ConditionalQA or doc2dial question (see the module docstring)."""
    if not question["answerable"]:
        return Gold(answerable=False)
    if "answers" in question:  # ConditionalQA
        texts = [a["text"] for a in question["answers"]]
        yes_no = sorted({t.strip().lower() for t in texts} & set(YES_NO))
        return Gold(
            spans=[t for t in texts if t.strip().lower() not in YES_NO],
            yes_no=(yes_no[0] if len(yes_no) == 1 else EITHER) if yes_no else None,
        )
    return Gold(spans=[question["answer_span"]] if question.get("answer_span") else [])


# --- Knowledge base ------------------------------------------------------------------------------


def ensure_ingested(sets: dict[str, list[dict]], reingest: bool) -> None:
    from knowledge.models import Document

    if reingest:
        print("--reingest: truncating the knowledge tables", flush=True)
        _common.truncate_knowledge()
    have = set(Document.objects.filter(versions__is_current=True).values_list("source_key", flat=True))
    for name, docs in sets.items():
        missing = [d for d in docs if _common.source_key(d) not in have]
        if not missing:
            print(f"{name}: all {len(docs)} documents already ingested", flush=True)
            continue
        print(f"{name}: ingesting {len(missing)} of {len(docs)} documents...", flush=True)
        start = time.perf_counter()
        _, failed = _common.ingest_docs(missing)
        print(f"  done in {time.perf_counter() - start:.0f} s, {len(failed)} failed", flush=True)
        for line in failed:
            print("  failed:", line)


def only_searchable(name: str) -> int:
    """Retire every document outside the set, restore the set's own; returns the searchable chunk count."""
    from knowledge import services
    from knowledge.models import Chunk, Document

    prefix = PREFIX[name]
    for doc in Document.objects.exclude(source_key__startswith=prefix).exclude(status=Document.Status.RETIRED):
        services.document_retire(document=doc)
    for doc in Document.objects.filter(source_key__startswith=prefix, status=Document.Status.RETIRED):
        services.document_restore(document=doc)
    return Chunk.objects.filter(searchable=True).count()


# --- Retrieval -------------------------------------------------------------------------------------


def retrieval(queries: list[tuple[str, set[str], set[str]]]) -> dict[str, dict[str, float]]:
    """hit@1 / hit@5 in % per mode (and the same with lenient gold sets, key suffix '-lenient')."""
    from core import embeddings
    from knowledge import selectors

    counts: Counter[str] = Counter()
    for query, gold, lenient in queries:
        vector = embeddings.embed_query(query)
        for mode in MODES:
            hits = selectors.chunk_search(query=query, vector=vector, k=_common.DOC_DEPTH, min_cosine=0.0, mode=mode)
            keys = [h.source_key for h in hits]
            for label, wanted in ((mode, gold), (f"{mode}-lenient", lenient)):
                for at, hit in _common.document_hits(keys, wanted).items():
                    counts[f"{label}{at}"] += hit
    n = len(queries)
    return {
        label: {
            "hit1": 100 * counts[f"{label}@1"] / n,
            "hit5": 100 * counts[f"{label}@5"] / n,
            "hit5d": 100 * counts[f"{label}@5d"] / n,
        }
        for label in [*MODES, *(f"{m}-lenient" for m in MODES)]
    }


def retrieval_table(result: dict, baseline: str, lenient: bool = False) -> str:
    rows = []
    for mode in MODES:
        ours = result[mode]
        b1, b5 = BASELINES[baseline][mode]
        row = [
            mode if mode != "text" else "text (full-text)",
            f"{ours['hit1']:.1f} / {ours['hit5']:.1f} / {ours['hit5d']:.1f}",
        ]
        if lenient:
            loose = result[f"{mode}-lenient"]
            row.append(f"{loose['hit1']:.1f} / {loose['hit5']:.1f} / {loose['hit5d']:.1f}")
        row.append(f"{b1} / {b5}")
        rows.append(row)
    headers = ["mode", "Groundwork hit@1 / hit@5 chunks / hit@5 documents (%)"]
    if lenient:
        headers.append("lenient, same three (%)")
    headers.append(f"naive baseline ({BASELINE_NOTE[baseline]})")
    return _common.table(headers, rows)


# --- Answer pipeline -------------------------------------------------------------------------------


def run_pipeline(variant: str, questions: list[dict]) -> tuple[list[dict], int]:
    """Every question through run.answer. The reader's threshold is lowered to 0 for the run and
    applied afterwards (`at_threshold`), so one run gives both the replies at the configured threshold
    and the escalation/coverage curve over other thresholds; the replies are the same either way,
    since the threshold only decides whether a turn that has a quote escalates."""
    from django.conf import settings

    from support.pipeline import read

    threshold = read.decisive_threshold()
    configured = settings.READER_MIN_ANSWERABLE
    settings.READER_MIN_ANSWERABLE = 0.0
    try:
        rows, truncated = _run_questions(variant, questions)
    finally:
        settings.READER_MIN_ANSWERABLE = configured
    return [at_threshold(r, threshold) for r in rows], truncated


def at_threshold(row: dict, threshold: float) -> dict:
    """The row as the pipeline answers with answer threshold `threshold`."""
    from support.reader import confidence as confidence_model

    row = {**row, "kind0": row["kind"], "text0": row.get("text", "")}
    p = row.get("p")
    if p is not None and row["kind"] in ANSWERED and p < threshold:
        why = "low_confidence" if confidence_model.load() is not None else "not_answerable"
        row.update(kind="escalated", reason="no_answer", why=why, text="", cited=[], context_tokens=None)
    return row


def _run_questions(variant: str, questions: list[dict]) -> tuple[list[dict], int]:
    from django.conf import settings

    from core.errors import ApplicationError
    from knowledge.models import Document, DocumentVersion
    from support import evaluation
    from support.pipeline import run

    limit = settings.CHAT_MAX_MESSAGE_CHARS
    source_key = dict(Document.objects.values_list("id", "source_key"))
    version_doc: dict[int, tuple[int, int]] = {}  # version id -> (document id, len(text) // 4)

    def version_facts(ids: list[int]) -> None:
        todo = [i for i in ids if i not in version_doc]
        for vid, did, text in DocumentVersion.objects.filter(id__in=todo).values_list("id", "document_id", "text"):
            version_doc[vid] = (did, len(text) // 4)

    rows: list[dict] = []
    truncated = 0
    for i, q in enumerate(questions, start=1):
        message, cut = chat_message(variant, q, limit)
        truncated += cut
        start = time.perf_counter()
        try:
            turn, reply = run.answer(text=message)
        except ApplicationError as exc:
            rows.append({"q": q, "kind": "error", "reason": exc.code, "why": exc.message, "ms": 0.0})
            continue
        ms = (time.perf_counter() - start) * 1000
        retrieved = turn.signals.get("retrieved", [])
        version_facts([r["version_id"] for r in retrieved])
        retrieved_docs = list(dict.fromkeys(version_doc[r["version_id"]][0] for r in retrieved))
        # The document of the first chunk in search (RRF) order and in the reader's order.
        order = (turn.signals.get("reader") or {}).get("chunk_order") or []
        rrf_top = source_key.get(version_doc[retrieved[0]["version_id"]][0], "") if retrieved else ""
        reader_top = source_key.get(version_doc[retrieved[order[0]]["version_id"]][0], "") if order else rrf_top
        cited_docs = list(dict.fromkeys(source_key.get(p.document_id, "") for p in reply.passages))
        rows.append(
            {
                "q": q,
                "kind": reply.kind,
                "reason": reply.reason,
                # An escalation says why in its detail (not_answerable, trigger name, nothing_kept,
                # unsupported_answer, output check); an answer has none.
                "why": reply.detail,
                "text": reply.text,
                "composer": reply.composer,
                "cited": cited_docs,
                "retrieved": [source_key.get(d, "") for d in retrieved_docs],
                "rrf_top": rrf_top,
                "reader_top": reader_top,
                "p": evaluation.deciding_p(turn.signals),
                "context_tokens": turn.signals.get("context_tokens"),
                "naive_tokens": sum(
                    version_doc[v][1] for v in dict.fromkeys(r["version_id"] for r in retrieved)
                ),  # one version per document: searchable chunks are of current versions only
                "ms": ms,
            }
        )
        if i % 50 == 0:
            print(f"  {variant}: {i}/{len(questions)} answered", flush=True)
    return rows, truncated


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} % ({part}/{whole})" if whole else "n/a"


ANSWERED = ("grounded", "approved")


def verdict_of(row: dict) -> Verdict:
    return judge(kind=row["kind"], text=row.get("text", ""), gold=gold_of(row["q"]))


def headline(name: str, rows: list[dict]) -> str:
    """correct / wrong / escalated / reply words: all questions, and ConditionalQA by answer_type."""
    verdicts = [(r["q"], verdict_of(r)) for r in rows]
    groups = [("all", [v for _, v in verdicts])]
    if name == "conditionalqa":
        for answer_type in ("span", "yes_no", "none"):
            groups.append((f"answer_type {answer_type}", [v for q, v in verdicts if q["answer_type"] == answer_type]))
    wrong = Counter(v.why for _, v in verdicts if v.why)
    note = ", ".join(f"{why} {n}" for why, n in wrong.most_common())
    return headline_table(groups) + (f"\n\nwhy wrong: {note}" if note else "")


def reliability(rows: list[dict]) -> str:
    """The deciding probability against what happened: the escalation/coverage curve (every question
    judged as if the threshold were t) and, over the replies that answered, the calibration error of P
    against "answered correctly"."""
    scored = [r for r in rows if r.get("p") is not None]
    if not scored:
        return ""
    at_zero = [(r["p"], judge(kind=r["kind0"], text=r["text0"], gold=gold_of(r["q"]))) for r in scored]
    unscored = [verdict_of(r) for r in rows if r.get("p") is None]  # vague, triggers, errors: as run
    table = []
    for t in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        outcomes = Counter(v.outcome if p >= t else "escalated" for p, v in at_zero)
        outcomes.update(v.outcome for v in unscored)
        table.append([f"{t:.1f}", outcomes["correct"], outcomes["wrong"], outcomes["escalated"]])
    # Calibration is of answers: a clarifying reply is never "correct", whatever its quote.
    answered = [(x, v) for (x, v), r in zip(at_zero, scored, strict=True) if r["kind0"] in ANSWERED]
    p = [x for x, _ in answered] or [0.0]
    y = [v.outcome == "correct" for _, v in answered] or [False]
    bins: dict[int, list[tuple[float, bool]]] = {}
    for pi, yi in zip(p, y, strict=True):
        bins.setdefault(min(9, int(pi * 10)), []).append((pi, yi))
    ece = sum(len(b) * abs(sum(x for x, _ in b) / len(b) - sum(z for _, z in b) / len(b)) for b in bins.values())
    lines = [
        f"reliability on the {len(answered)} answers (of {len(scored)} questions read): expected calibration error "
        f"(10 bins) of the deciding P "
        f"(P(reply correct), or the reader's P(answerable) without confidence weights) against 'answered correctly' "
        f"{ece / len(p):.3f}; mean P {statistics.mean(p):.3f}, "
        f"share answered correctly if never escalating {statistics.mean(y):.3f}",
        "",
        _common.table(["threshold on the deciding P", "correct", "wrong", "escalated"], table),
    ]
    return "\n".join(lines)


def answer_report(name: str, rows: list[dict], truncated: int) -> str:
    answerable = [r for r in rows if r["q"]["answerable"]]
    unanswerable = [r for r in rows if not r["q"]["answerable"]]
    answered = [r for r in answerable if r["kind"] in ANSWERED]
    lines: list[str] = [headline(name, rows), "", reliability(rows), "", "details:", ""]
    table: list[list[object]] = []
    searched = [r for r in answerable if r.get("rrf_top")]
    for label, key in (("search (RRF) order", "rrf_top"), ("reader order", "reader_top")):
        table.append(
            [
                f"answerable questions: the first retrieved chunk is from a gold document, {label}",
                pct(sum(r[key] in gold_keys(r["q"], lenient=True) for r in searched), len(searched)),
            ]
        )
    if unanswerable:
        escalated = sum(r["kind"] == "escalated" for r in unanswerable)
        table.append(["unanswerable questions escalated", pct(escalated, len(unanswerable))])
        table.append(
            [
                "unanswerable questions answered (grounded/approved)",
                pct(sum(r["kind"] in ANSWERED for r in unanswerable), len(unanswerable)),
            ]
        )
    kinds = Counter(r["kind"] for r in answerable)
    table.append(["answerable questions answered (grounded/approved)", pct(len(answered), len(answerable))])
    table.append(["answerable questions escalated", pct(kinds["escalated"], len(answerable))])
    table.append(["answerable questions clarify", pct(kinds["clarify"], len(answerable))])
    other = len(answerable) - len(answered) - kinds["escalated"] - kinds["clarify"]
    if other:
        table.append(["answerable questions, other kinds", pct(other, len(answerable))])
    span_rows = [r for r in answered if r["q"].get("answer_span")]
    table.append(
        [
            "answered span questions: reply contains the answer span (case-insensitive substring)",
            pct(sum(r["q"]["answer_span"].lower() in r["text"].lower() for r in span_rows), len(span_rows)),
        ]
    )
    table.append(
        [
            "answered span questions: reply contains the answer span (words only: spacing, punctuation, "
            "citation markers ignored)",
            pct(sum(contains(r["text"], r["q"]["answer_span"]) for r in span_rows), len(span_rows)),
        ]
    )
    if any(r["q"].get("evidence") for r in answered):
        with_evidence = [r for r in answered if r["q"].get("evidence")]
        table.append(
            [
                "answered questions: reply contains at least one gold evidence sentence (words only)",
                pct(
                    sum(any(contains(r["text"], e) for e in r["q"]["evidence"]) for r in with_evidence),
                    len(with_evidence),
                ),
            ]
        )
    table.append(
        [
            "answered questions: reply cites a gold document",
            pct(sum(bool(gold_keys(r["q"]) & set(r["cited"])) for r in answered), len(answered)),
        ]
    )
    if name == "doc2dial":
        table.append(
            [
                "answered questions: reply cites a gold document (lenient)",
                pct(sum(bool(gold_keys(r["q"], lenient=True) & set(r["cited"])) for r in answered), len(answered)),
            ]
        )
    table.append(
        [
            "answerable questions: a gold document among the pipeline's own retrieved chunks (CHAT_RETRIEVAL_K)",
            pct(sum(bool(gold_keys(r["q"]) & set(r.get("retrieved", []))) for r in answerable), len(answerable)),
        ]
    )
    lines.append(_common.table(["answer pipeline", "value"], table))

    grounded = [r for r in rows if r["kind"] == "grounded" and r["context_tokens"] is not None]
    if grounded:
        ctx = [r["context_tokens"] for r in grounded]
        naive = [r["naive_tokens"] for r in grounded]
        ratios = [n / c for n, c in zip(naive, ctx, strict=True) if c]
        lines.append("")
        lines.append(
            _common.table(
                ["context tokens per grounded answer (len // 4)", "mean", "median"],
                [
                    ["pipeline (compressed passages)", f"{statistics.mean(ctx):.0f}", f"{statistics.median(ctx):.0f}"],
                    [
                        "naive: whole documents of the pipeline's retrieved chunks",
                        f"{statistics.mean(naive):.0f}",
                        f"{statistics.median(naive):.0f}",
                    ],
                    [
                        "ratio naive / pipeline",
                        f"{statistics.mean(naive) / statistics.mean(ctx):.1f}x (of the means)",
                        f"{statistics.median(ratios):.1f}x (per answer)",
                    ],
                ],
            )
        )

    def breakdown(items: list[dict]) -> str:
        c = Counter(f"{r['kind']}:{r['why'] or r['reason']}" for r in items)
        return ", ".join(f"{k} {v}" for k, v in c.most_common())

    lines.append("")
    lines.append(f"answerable, kind:reason: {breakdown(answerable)}")
    if unanswerable:
        lines.append(f"unanswerable, kind:reason: {breakdown(unanswerable)}")
    composers = Counter(r.get("composer") or "-" for r in answered)
    lines.append(f"composer of answered replies: {dict(composers)}")
    timed = [r["ms"] for r in rows if r["kind"] != "error"]
    errors = [r for r in rows if r["kind"] == "error"]
    lines.append(
        f"messages cut to fit CHAT_MAX_MESSAGE_CHARS: {truncated}; refused with ApplicationError: {len(errors)}; "
        f"run.answer p50 {statistics.median(timed):.0f} ms per question (reference only: shared, busy machine)"
    )
    return "\n".join(lines)


# --- Main ------------------------------------------------------------------------------------------


def evaluate_set(
    name: str, questions: list[dict], *, total: int, retrieval_only: bool = False, split: str = ""
) -> None:
    print(f"\n## {name}\n", flush=True)
    chunks = only_searchable(name)
    print(f"searchable chunks (this set only): {chunks}; questions: {len(questions)}", flush=True)
    if split:
        print(split, flush=True)
    print(flush=True)
    if name == "conditionalqa":
        with_scenario = [(f"{q['scenario']} {q['question']}".strip(), gold_keys(q), gold_keys(q)) for q in questions]
        question_only = [(q["question"], gold_keys(q), gold_keys(q)) for q in questions]
        print("### retrieval, scenario + question\n")
        print(retrieval_table(retrieval(with_scenario), "conditionalqa"), flush=True)
        print("\n### retrieval, question only\n")
        print(retrieval_table(retrieval(question_only), "conditionalqa-question-only"), flush=True)
    else:
        queries = [(q["question"], gold_keys(q), gold_keys(q, lenient=True)) for q in questions]
        print("### retrieval, question\n")
        print(retrieval_table(retrieval(queries), "doc2dial", lenient=True), flush=True)
    if len(questions) < total:
        print(
            f"\n(the naive baseline column is over all {total} questions of the set; ours over these {len(questions)})"
        )
    if retrieval_only:
        return
    print("\n### answer pipeline\n", flush=True)
    rows, truncated = run_pipeline(name, questions)
    print(answer_report(name, rows, truncated), flush=True)
    if name == "conditionalqa":
        # Diagnostic only: the same questions without the asker's scenario.
        print("\n### answer pipeline, question only (diagnostic)\n", flush=True)
        rows, truncated = run_pipeline("question-only", questions)
        print(answer_report(name, rows, truncated), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=["conditionalqa", "doc2dial", "all"], default="all")
    parser.add_argument("--reingest", action="store_true", help="truncate the knowledge tables and ingest again")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of each set (smoke test)")
    parser.add_argument("--retrieval-only", action="store_true", help="skip the answer pipeline (about 1 minute)")
    parser.add_argument(
        "--split",
        choices=["heldout", "all"],
        default="heldout",
        help="doc2dial questions: heldout = only those on the reader's held-out test documents (default); all",
    )
    parser.add_argument(
        "--doc2dial-turns",
        choices=["first", "later"],
        default="first",
        help="doc2dial: the dialogues' first user turns (the shared set, default) or their later turns "
        "(support/reader/data/doc2dial_later_turns.jsonl: specific questions on the same pages)",
    )
    args = parser.parse_args()

    os.environ["EMBEDDED_PGDATA"] = str(PGDATA)
    os.environ.setdefault("DEBUG", "1")
    _common.setup_django()
    try:
        from django.conf import settings

        from core import embeddings
        from support.pipeline import llm

        _common.print_context("public_qa.py", sys.argv[1:])
        print(
            f"composer: {llm.composer_name() if llm.enabled() else 'extractive'}; "
            + ", ".join(f"{name}={getattr(settings, name)}" for name in SETTINGS_SHOWN if hasattr(settings, name)),
            flush=True,
        )
        names = list(_common.DATASETS) if args.set == "all" else [args.set]
        data = {name: load_set(name) for name in _common.DATASETS}
        embeddings.warm()
        ensure_ingested({name: data[name][0] for name in names}, args.reingest)
        for name in names:
            questions = data[name][1]
            split = ""
            if name == "doc2dial" and args.doc2dial_turns == "later":
                questions = load_jsonl(LATER_TURNS)
                split = "later user turns (support/reader/data/); "
            if name == "doc2dial":
                if args.split == "heldout":
                    questions = heldout(questions)
                    split += (
                        f"split: heldout -- the {len(questions)} questions whose documents "
                        f"are all in the reader's held-out test list ({READER_SPLIT.relative_to(_common.ROOT)}); "
                        f"the knowledge base is all {len(data[name][0])} documents, so retrieval still searches "
                        "every page"
                    )
                else:
                    split += f"split: all -- every one of the {len(questions)} questions"
            if args.limit:
                questions = questions[: args.limit]
                split += f"{'; ' if split else ''}--limit {args.limit}: the first {len(questions)} of them"
            evaluate_set(name, questions, total=len(data[name][1]), retrieval_only=args.retrieval_only, split=split)
    finally:
        _common.stop_server()


if __name__ == "__main__":
    main()
