"""Training the learned reader (`support.reader.model`) from doc2dial, reproducibly.

The questions are the dialogues' first user turns (the shared benchmark folder) and their later user
turns (`support/reader/data/`), split by document as `split.json` says.

`manage.py train_reader` calls `run`. The steps, and why each is done this way:

1. `prepare`: every document goes through the project's own ingestion code (`knowledge.parsing`,
   `knowledge.chunking`, `core.embeddings.embed_with_spans`), so the sentences, spans and vectors
   the model learns from are exactly what a turn sees at run time.
2. `KnowledgeBase.retrieve`: each question becomes a simulated turn (cosine + BM25, fused by RRF,
   top K chunks) over its split's documents only, with the gold document group present or removed.
3. The features come from `support.reader.features`, the code the turn itself runs: training on a
   copy would let the two drift apart silently.
4. A LightGBM lambdarank ranker (150 trees x 7 leaves) scores sentences; a logistic turn model (C=0.03),
   fitted on out-of-fold sentence scores, predicts whether the top sentence answers; Platt scaling
   fitted on the calibration split makes that a probability; one answer threshold is chosen there too.
5. The held-out test split is only read by `report_test`, after the model is written: it never
   influences a choice.

Everything is seeded or hashed from fixed strings, so a rerun writes the same model.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from django.conf import settings

from core import embeddings
from knowledge import chunking, parsing
from support.reader.features import SENT_FEATURES, TURN_FEATURES, featurize, tokens, turn_features
from support.reader.model import Calibrator, Linear, Reader, Trees

# The shared benchmark folder sits beside the project (../shared), as bench/_common.py finds it.
_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = (
    next(
        (p for p in (_ROOT.parent / "shared", Path("/work/shared")) if (p / "benchmarks").is_dir()),
        Path("/work/shared"),
    )
    / "benchmarks"
    / "support_qa"
    / "doc2dial"
)
SPLIT_PATH = Path(__file__).resolve().parent / "split.json"
# doc2dial's later user turns (the shared folder keeps only first turns): support/reader/data/README.md.
LATER_TURNS = Path(__file__).resolve().parent / "data" / "doc2dial_later_turns.jsonl"
# Help centres of shops written by the team as training data (support/reader/data/shops/README.md).
SHOPS = Path(__file__).resolve().parent / "data" / "shops"
SHOP_CALIB_EVERY = 5  # every fifth shop (in name order) joins the calibration split, the others train
# A shop's turn counts this many times when the sentence ranker is fitted: a few hundred shop questions
# beside two thousand doc2dial ones would otherwise hardly move it.
SHOP_TURN_REPEAT = 8
SPLITS = ("train", "calib", "test")

K = 8  # chunks per simulated turn, as the turn's hybrid search returns
SEED = 13
FOLDS = 5
SENTENCE_ROUNDS = 150
SENTENCE_PARAMS = {
    "objective": "lambdarank",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "lambdarank_truncation_level": 10,
    "seed": SEED,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
TURN_C = 1.0
# The turn model reads two signals that mean the same on any site: how sure the ranker is of its top
# sentence (its share of the turn) and how close the best sentence is to the question. The full set of
# 19 turn features fits doc2dial better (AUROC 0.88 vs 0.88 on calib) but carried over worse to a
# help centre of another shape (support/reader/README.md).
TURN_FEATURES_USED = ("p1", "cos_s_max")
TURN_COLUMNS = [TURN_FEATURES.index(name) for name in TURN_FEATURES_USED]
WRONG_COST = 2.0  # a wrong answer costs this many correct ones; an escalation costs nothing
REPORT_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
EMBED_BATCH = 16
CACHE_VERSION = 1

Log = Callable[[str], None]


class DataMissing(Exception):
    """The doc2dial folder or the split file is not where it was looked for."""


def _quiet(_: str) -> None:
    pass


# ------------------------------------------------------------------ data


def check_data(data_dir: Path, split_path: Path | None = SPLIT_PATH) -> None:
    """Fail before anything slow starts when an input is missing."""
    needed = [data_dir / "docs.jsonl", data_dir / "questions.jsonl", *([split_path] if split_path else [])]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        raise DataMissing(
            "training data missing: " + ", ".join(str(p) for p in missing) + f" (expected doc2dial's docs.jsonl and "
            f"questions.jsonl in {data_dir}, and the document split in {split_path}; see support/reader/README.md)"
        )


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_doc2dial(data_dir: Path, later_turns: Path | None = LATER_TURNS) -> tuple[list[dict], list[dict]]:
    """docs.jsonl and questions.jsonl as the shared benchmark folder holds them (first turns), then
    the later turns of the same dialogues when `later_turns` is given; each question says which."""
    check_data(data_dir, split_path=None)
    docs = _jsonl(data_dir / "docs.jsonl")
    questions = [{**q, "turn": "first"} for q in _jsonl(data_dir / "questions.jsonl")]
    if later_turns is not None:
        known = {d["doc_id"] for d in docs}
        questions += [{**q, "turn": "later"} for q in _jsonl(later_turns) if set(q["doc_ids"]) <= known]
    return docs, questions


def load_shops(root: Path | None = SHOPS) -> tuple[list[dict], list[dict]]:
    """The team's training help centres, doc2dial-shaped: one doc per article (parsed as the Markdown
    file a shop would upload) and the grounded questions, whose gold sentences are the ones holding
    one of the row's `must_contain` facts. Each shop is a knowledge base of its own."""
    docs: list[dict] = []
    questions: list[dict] = []
    if root is None or not root.is_dir():
        return docs, questions
    shops = sorted(p for p in root.iterdir() if (p / "kb").is_dir() and (p / "questions.jsonl").is_file())
    for n, shop in enumerate(shops):
        split = "calib" if n % SHOP_CALIB_EVERY == SHOP_CALIB_EVERY - 1 else "train"
        for f in sorted((shop / "kb").glob("*.md")):
            docs.append(
                {"doc_id": f"shop:{shop.name}:{f.stem}", "title": "", "text": f.read_text(), "file": f.name,
                 "kb": f"shop:{shop.name}", "split": split}
            )  # fmt: skip
        for i, row in enumerate(_jsonl(shop / "questions.jsonl")):
            if row.get("expected_kind") != "grounded" or not row.get("must_contain"):
                continue
            did = f"shop:{shop.name}:{Path(row['expected_document']).stem}"
            questions.append(
                {"qid": f"shop:{shop.name}:{i}", "question": row["question"], "doc_ids": [did], "turn": "first",
                 "must_contain": row["must_contain"], "answer_span": "", "answer_start": 0}
            )  # fmt: skip
    return docs, questions


def provenance(data_dir: Path) -> dict:
    """Where the data came from, read from the folder's README, plus the files' hashes."""
    readme = data_dir / "README.md"
    text = readme.read_text() if readme.is_file() else ""

    def found(pattern: str) -> str | None:
        m = re.search(pattern, text)
        return m.group(1) if m else None

    return {
        "path": str(data_dir),
        "source_repo": found(r"Repo `([^`]+)`"),
        "source_file": found(r"file `([^`]+)`"),
        "source_commit": found(r"commit `([0-9a-f]{40})`"),
        "licence": found(r"\*\*(CC BY[^*]*)\*\*"),
        "docs_sha256": hashlib.sha256((data_dir / "docs.jsonl").read_bytes()).hexdigest(),
        "questions_sha256": hashlib.sha256((data_dir / "questions.jsonl").read_bytes()).hexdigest(),
    }


def document_groups(docs: list[dict], questions: list[dict]) -> dict[str, str]:
    """doc_id -> group id. Docs that share a title (sections of one page), an identical text or a
    question's span belong together: a group is split, removed and cross-validated as one unit, so no
    copy of a test or removed document leaks into training or into the knowledge base."""
    parent = {d["doc_id"]: d["doc_id"] for d in docs}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first: dict[str, str] = {}
    for d in docs:
        text_key = hashlib.sha1(_norm_ws(d["text"]).encode(), usedforsecurity=False).hexdigest()
        for key in ("t:" + d["title"].strip().lower(), "x:" + text_key):
            if key in first:
                union(first[key], d["doc_id"])
            else:
                first[key] = d["doc_id"]
    for q in questions:
        ids = q["doc_ids"] + q.get("answer_span_also_in_doc_ids", [])
        for other in ids[1:]:
            union(ids[0], other)
    return {d["doc_id"]: find(d["doc_id"]) for d in docs}


def load_split(path: Path, docs: list[dict], group_of: dict[str, str]) -> dict[str, str]:
    """doc_id -> split, from the committed split.json (the lab's split, kept exactly).
    Refuses a split that misses a document or cuts a document group in two."""
    spec = json.loads(path.read_text())
    split_of = {doc_id: s for s in SPLITS for doc_id in spec.get(s, [])}
    missing = [d["doc_id"] for d in docs if d["doc_id"] not in split_of]
    if missing:
        raise ValueError(f"{path} has no split for {len(missing)} document(s), e.g. {missing[:3]}")
    seen: dict[str, str] = {}
    for doc_id, g in group_of.items():
        if seen.setdefault(g, split_of[doc_id]) != split_of[doc_id]:
            raise ValueError(f"{path} puts the document group of {doc_id} in two splits")
    return split_of


def _h01(s: str) -> float:
    """A fixed pseudo-random number in [0, 1] from a string: folds and removals never depend on order."""
    return int(hashlib.sha256(s.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _norm_ws(s: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", s)).strip()


def _norm_map(text: str) -> tuple[str, list[int]]:
    """Whitespace-collapsed text plus, per kept character, its offset in `text`."""
    out: list[str] = []
    idx: list[int] = []
    prev_space = True
    for i, ch in enumerate(text):
        if ch.isspace():
            if not prev_space:
                out.append(" ")
                idx.append(i)
            prev_space = True
        else:
            out.append(ch)
            idx.append(i)
            prev_space = False
    return "".join(out), idx


# ------------------------------------------------------------------ ingestion


@dataclass
class Corpus:
    """The documents as ingestion sees them: chunks, sentences (mapped back to document offsets), the
    ingestion-time vectors, question vectors and each question's gold sentences."""

    docs: list[dict]
    questions: list[dict]
    chunks: list[dict]
    sentences: list[dict]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    heading_vectors: np.ndarray
    question_vectors: np.ndarray
    gold: list[list[int]] = field(default_factory=list)


def prepare(docs: list[dict], questions: list[dict], log: Log = _quiet) -> Corpus:
    """Parse, chunk and embed every document exactly as ingestion does, and label gold sentences.
    A doc becomes `{doc_id}.txt` holding `{title}\\n\\n{text}`, as an uploaded text file would."""
    t0 = time.perf_counter()
    chunks: list[dict] = []
    sentences: list[dict] = []
    for d in docs:
        drafts = chunk_doc(d)
        ntext, nidx = _norm_map(d["text"])
        cursor = 0
        for c in drafts:
            chunk = {
                "doc_id": d["doc_id"],
                "heading_path": c.heading_path,
                "text": c.text,
                "embedding_text": c.embedding_text,
                "body_offset": c.body_offset,
                "spans": [list(s) for s in c.sentence_spans],
                "sentence_ids": [],
            }
            for s, e in c.sentence_spans:
                st = _norm_ws(c.text[s:e])
                pos = ntext.find(st, max(0, cursor - 2000))
                if pos < 0:
                    pos = ntext.find(st)
                if pos >= 0:
                    start, end = nidx[pos], nidx[pos + len(st) - 1] + 1
                    cursor = pos
                else:
                    start = end = -1
                chunk["sentence_ids"].append(len(sentences))
                sentences.append({"chunk": len(chunks), "text": c.text[s:e], "start": start, "end": end})
            chunks.append(chunk)
    _section_positions(chunks)
    mapped = sum(1 for s in sentences if s["start"] >= 0)
    log(f"parsed and chunked {len(docs)} docs: {len(chunks)} chunks, {len(sentences)} sentences ({mapped} mapped)")

    dims = int(settings.EMBEDDING_DIMENSIONS)
    texts = [c["embedding_text"] for c in chunks]
    spans = [[(c["body_offset"] + s, c["body_offset"] + e) for s, e in c["spans"]] for c in chunks]
    chunk_vectors, per_chunk = embeddings.embed_with_spans(texts, spans, batch_size=EMBED_BATCH)
    sentence_vectors = np.zeros((len(sentences), dims), dtype=np.float32)
    for c, v in zip(chunks, per_chunk, strict=True):
        sentence_vectors[c["sentence_ids"]] = v
    heads = sorted({c["heading_path"] for c in chunks})
    head_id = {h: i for i, h in enumerate(heads)}
    for c in chunks:
        c["head_id"] = head_id[c["heading_path"]]
    heading_vectors = embeddings.embed_passages(heads) if heads else np.zeros((0, dims))
    question_vectors = embeddings.embed_passages([q["question"] for q in questions])
    log(f"embedded chunks, sentences, {len(heads)} headings and {len(questions)} questions")
    corpus = Corpus(
        docs=docs,
        questions=questions,
        chunks=chunks,
        sentences=sentences,
        chunk_vectors=np.asarray(chunk_vectors, np.float32),
        sentence_vectors=sentence_vectors.astype(np.float16),  # stored as float16 at run time too
        heading_vectors=np.asarray(heading_vectors, np.float32),
        question_vectors=np.asarray(question_vectors, np.float32),
    )
    corpus.gold = label_gold(corpus)
    n_gold = sum(1 for g in corpus.gold if g)
    log(f"gold sentences found for {n_gold}/{len(questions)} questions ({time.perf_counter() - t0:.0f}s)")
    return corpus


def chunk_doc(d: dict) -> list[chunking.ChunkDraft]:
    """A document's chunks as ingestion makes them: a shop's article parsed as the file it is, a
    doc2dial page as `{doc_id}.txt` holding `{title}\n\n{text}`."""
    if "file" in d:
        parsed = parsing.parse_document(d["file"], d["text"].encode())
    else:
        parsed = parsing.parse_document(f"{d['doc_id']}.txt", f"{d['title']}\n\n{d['text']}".encode())
    return chunking.chunk_document(parsed, count_tokens=embeddings.count_tokens)


def _section_positions(chunks: list[dict]) -> None:
    """`section_chunk_index`: the chunk's position among consecutive chunks of one heading path,
    as ingestion stores it (0 = the chunk opens its section)."""
    prev = None
    index = 0
    for c in chunks:
        key = (c["doc_id"], c["heading_path"])
        index = index + 1 if key == prev else 0
        c["section_chunk_index"] = index
        prev = key


def label_gold(corpus: Corpus) -> list[list[int]]:
    """Per question, the sentences overlapping the gold span in the gold doc or in a doc that repeats it.
    A span that is only a heading overlaps no sentence: the section's first sentence after it is gold."""
    by_id = {d["doc_id"]: d for d in corpus.docs}
    doc_sents: dict[str, list[int]] = {}
    for i, s in enumerate(corpus.sentences):
        doc_sents.setdefault(corpus.chunks[s["chunk"]]["doc_id"], []).append(i)
    gold: list[list[int]] = []
    for q in corpus.questions:
        if q.get("must_contain"):
            facts = [_norm_ws(f).lower() for f in q["must_contain"]]
            own = doc_sents.get(q["doc_ids"][0], [])
            gold.append([i for i in own if any(f in _norm_ws(corpus.sentences[i]["text"]).lower() for f in facts)])
            continue
        ranges = {did: (q["answer_start"], q["answer_start"] + len(q["answer_span"])) for did in q["doc_ids"]}
        for did in q.get("answer_span_also_in_doc_ids", []):
            p = by_id[did]["text"].find(q["answer_span"]) if did in by_id else -1
            if p >= 0:
                ranges[did] = (p, p + len(q["answer_span"]))
        g = {
            i
            for did, (a, b) in ranges.items()
            for i in doc_sents.get(did, [])
            if 0 <= corpus.sentences[i]["start"] < b and corpus.sentences[i]["end"] > a
        }
        if not g:
            end = q["answer_start"] + len(q["answer_span"])
            after = [i for i in doc_sents.get(q["doc_ids"][0], []) if corpus.sentences[i]["start"] >= end]
            if after:
                first = min(corpus.sentences[i]["start"] for i in after)
                g = {i for i in after if corpus.sentences[i]["start"] == first}
        gold.append(sorted(g))
    return gold


def _cache_key(data_dir: Path) -> str:
    """Changes when the data, the parser, the chunker or the embedding code changes."""
    h = hashlib.sha256(f"v{CACHE_VERSION}:{Path(embeddings.model_path()).name}".encode())
    for p in ("docs.jsonl", "questions.jsonl"):
        h.update((data_dir / p).read_bytes())
    for module in (parsing, chunking, embeddings):
        h.update(inspect.getsource(module).encode())
    return h.hexdigest()[:16]


def prepare_cached(
    docs: list[dict], questions: list[dict], data_dir: Path, cache_dir: Path | None, log: Log = _quiet
) -> tuple[Corpus, bool]:
    """`prepare`, reusing a previous run's result from `cache_dir` when nothing it depends on changed
    (embedding is most of a run's time). JSON + npz rather than pickle: a cache file is data, not code.
    Question vectors are cached by the question's text, so adding questions embeds only those."""
    if cache_dir is None:
        return prepare(docs, questions, log), False
    base = cache_dir / f"doc2dial-{_cache_key(data_dir)}"
    meta, arrays = base.with_suffix(".json"), base.with_suffix(".npz")
    asked = cache_dir / f"{base.name}-questions.npz"
    hit = meta.is_file() and arrays.is_file()
    if hit:
        m = json.loads(meta.read_text())
        with np.load(arrays) as a:
            docs_part = [a[k] for k in _ARRAYS[:3]]
        known: dict[str, np.ndarray] = {}
        if asked.is_file():
            with np.load(asked) as a:
                known = dict(zip(a["texts"].tolist(), a["vectors"], strict=True))
        texts = [q["question"] for q in questions]
        missing = sorted({t for t in texts if t not in known})
        if missing:
            known.update(zip(missing, embeddings.embed_passages(missing), strict=True))
        vectors = np.asarray([known[t] for t in texts], np.float32)
        corpus = Corpus(docs, questions, m["chunks"], m["sentences"], *docs_part, vectors)
        corpus.gold = label_gold(corpus)
        log(f"prepared corpus read from {base}.* ({len(missing)} new questions embedded)")
    else:
        corpus = prepare(docs, questions, log)
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.savez(arrays, **{k: getattr(corpus, k) for k in _ARRAYS[:3]})
        meta.write_text(json.dumps({"chunks": corpus.chunks, "sentences": corpus.sentences}))
        log(f"prepared corpus cached in {base}.*")
    if not hit or missing:
        np.savez(asked, texts=np.array([q["question"] for q in questions]), vectors=corpus.question_vectors)
    return corpus, hit


_ARRAYS = ("chunk_vectors", "sentence_vectors", "heading_vectors", "question_vectors")


def merge(a: Corpus, b: Corpus) -> Corpus:
    """One corpus of two prepared ones (doc2dial from the cache, the shops prepared afresh), every index
    of `b` shifted past `a`'s."""
    n_chunks, n_sents, n_heads = len(a.chunks), len(a.sentences), len(a.heading_vectors)
    chunks = a.chunks + [
        {**c, "sentence_ids": [i + n_sents for i in c["sentence_ids"]], "head_id": c["head_id"] + n_heads}
        for c in b.chunks
    ]
    sentences = a.sentences + [{**x, "chunk": x["chunk"] + n_chunks} for x in b.sentences]
    merged = Corpus(
        a.docs + b.docs,
        a.questions + b.questions,
        chunks,
        sentences,
        *(np.concatenate([getattr(a, k), getattr(b, k)]).astype(getattr(a, k).dtype) for k in _ARRAYS),
    )
    merged.gold = a.gold + [[i + n_sents for i in g] for g in b.gold]
    return merged


# ------------------------------------------------------------------ simulated turns


class KnowledgeBase:
    """One split's chunks with the turn's retrieval: cosine and BM25 (k1 1.2, b 0.75, over heading path +
    text) fused by RRF (k 60). Removing documents also removes them from the BM25 statistics, as
    deleting them from a real knowledge base would."""

    def __init__(self, corpus: Corpus, chunk_ids: list[int]) -> None:
        self.corpus = corpus
        self.ids = np.array(chunk_ids, dtype=int)
        self.ctoks = [Counter(tokens(corpus.chunks[c]["embedding_text"])) for c in chunk_ids]
        self.lens = np.array([sum(t.values()) for t in self.ctoks], float)
        self.inv: dict[str, list[tuple[int, int]]] = {}
        for i, t in enumerate(self.ctoks):
            for w, n in t.items():
                self.inv.setdefault(w, []).append((i, n))
        self.df = {w: len(v) for w, v in self.inv.items()}
        self.doc_of = np.array([corpus.chunks[c]["doc_id"] for c in chunk_ids])

    def retrieve(self, qi: int, removed: set[str] | None = None, k: int = K) -> tuple[list[dict], dict]:
        """The top-k chunks for question `qi` in the form the turn hands the reader, and the KB stats."""
        corpus = self.corpus
        keep = ~np.isin(self.doc_of, list(removed)) if removed else np.ones(len(self.ids), bool)
        n = int(keep.sum())
        df = dict(self.df)
        if removed:
            for i in np.nonzero(~keep)[0]:
                for w in self.ctoks[i]:
                    df[w] -= 1
        cos = corpus.chunk_vectors[self.ids] @ corpus.question_vectors[qi]
        cos[~keep] = -9
        vr = np.empty(len(cos), int)
        vr[np.argsort(-cos, kind="stable")] = np.arange(1, len(cos) + 1)
        avg = self.lens[keep].mean() if n else 1.0
        bm = np.zeros(len(cos))
        # Sorted, not a set's order: that order changes with each process's string hashing, which changed
        # the float sums in the last bit and so LightGBM's bins and the trained model from run to run.
        for w in sorted(set(tokens(corpus.questions[qi]["question"]))):
            if w not in self.inv or df.get(w, 0) <= 0:
                continue
            idf = math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5))
            for i, tf in self.inv[w]:
                bm[i] += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * self.lens[i] / avg))
        bm[~keep] = 0
        tr = np.zeros(len(cos), int)
        hits = np.nonzero(bm > 0)[0]
        tr[hits[np.argsort(-bm[hits], kind="stable")]] = np.arange(1, len(hits) + 1)
        rrf = 1 / (60 + vr) + np.where(tr > 0, 1 / (60 + np.maximum(tr, 1)), 0)
        rrf[~keep] = -1
        chunks = []
        for i in np.argsort(-rrf, kind="stable")[: min(k, n)]:
            c = corpus.chunks[self.ids[i]]
            chunks.append(
                {
                    "doc_id": c["doc_id"],
                    "heading_path": c["heading_path"],
                    "text": c["text"],
                    "sentence_spans": c["spans"],
                    "sentence_vectors": corpus.sentence_vectors[c["sentence_ids"]],
                    "heading_vector": corpus.heading_vectors[c["head_id"]],
                    "section_chunk_index": c["section_chunk_index"],
                    "cosine": float(cos[i]),
                    "vector_rank": int(vr[i]),
                    "text_rank": int(tr[i]),
                    "bm25": float(bm[i]),
                    "sentence_ids": c["sentence_ids"],
                }
            )
        return chunks, {"n": n, "df": df}


@dataclass
class Turn:
    """One simulated turn: the candidate sentences' features and labels, and what was retrieved."""

    qi: int
    X: np.ndarray
    y: np.ndarray
    keys: list[tuple[int, int]]
    chunks: list[dict]
    chunk_gold: np.ndarray
    removed: bool
    group: str
    repeat: int = 1  # how many times the sentence ranker sees it


def build_turn(corpus: Corpus, kb: KnowledgeBase, qi: int, removed: set[str], group_of: dict[str, str]) -> Turn:
    """Retrieve, featurize with the run-time code, and label: a candidate is gold if it is a gold
    sentence or repeats one's text (chunks overlap and the dedup keeps the better-ranked copy)."""
    q = corpus.questions[qi]
    gold_ids = set(corpus.gold[qi])
    gold_texts = {" ".join(corpus.sentences[i]["text"].split()).lower() for i in gold_ids}
    gold_docs = set(q["doc_ids"]) | set(q.get("answer_span_also_in_doc_ids", []))
    chunks, stats = kb.retrieve(qi, removed)
    X, keys, texts = featurize(q["question"], corpus.question_vectors[qi], chunks, stats)
    y = np.array(
        [
            int(chunks[ci]["sentence_ids"][j] in gold_ids or " ".join(t.split()).lower() in gold_texts)
            for (ci, j), t in zip(keys, texts, strict=True)
        ],
        dtype=int,
    )
    return Turn(
        qi=qi,
        X=X,
        y=y,
        keys=keys,
        chunks=chunks,
        chunk_gold=np.array([c["doc_id"] in gold_docs for c in chunks]),
        removed=bool(removed),
        group=group_of.get(q["doc_ids"][0], q["doc_ids"][0]),
    )


class Simulator:
    """Builds a split's turns. mode "full": the gold group stays in the KB; "removed": it is taken out
    (the answer is not in the KB, any answer is wrong); "half": removed for a fixed half of questions."""

    def __init__(self, corpus: Corpus, split_of: dict[str, str], group_of: dict[str, str]) -> None:
        self.corpus = corpus
        self.split_of = split_of
        self.group_of = group_of
        self.members: dict[str, set[str]] = {}
        for did, g in group_of.items():
            self.members.setdefault(g, set()).add(did)
        self.questions = {
            s: [i for i, q in enumerate(corpus.questions) if split_of[q["doc_ids"][0]] == s] for s in SPLITS
        }
        # Which knowledge base a document belongs to: doc2dial's pages share one per split, each
        # shop's articles are a knowledge base of their own.
        self.kb_of = {d["doc_id"]: d.get("kb", "doc2dial") for d in corpus.docs}
        self._kbs: dict[tuple[str, str], KnowledgeBase] = {}

    def kb(self, split: str, name: str = "doc2dial") -> KnowledgeBase:
        if (split, name) not in self._kbs:
            ids = [
                i
                for i, c in enumerate(self.corpus.chunks)
                if self.split_of[c["doc_id"]] == split and self.kb_of[c["doc_id"]] == name
            ]
            self._kbs[split, name] = KnowledgeBase(self.corpus, ids)
        return self._kbs[split, name]

    def turns(self, split: str, mode: str, turn: str | None = None) -> list[Turn]:
        """`turn`: only the dialogues' "first" or "later" user turns (None: both)."""
        out = []
        for qi in self.questions[split]:
            q = self.corpus.questions[qi]
            if turn is not None and q.get("turn", "first") != turn:
                continue
            removed: set[str] = set()
            if mode == "removed" or (mode == "half" and _h01("rm:" + q["qid"]) < 0.5):
                for did in set(q["doc_ids"]) | set(q.get("answer_span_also_in_doc_ids", [])):
                    removed |= self.members[self.group_of[did]]
            name = self.kb_of[q["doc_ids"][0]]
            built = build_turn(self.corpus, self.kb(split, name), qi, removed, self.group_of)
            built.repeat = 1 if name == "doc2dial" else SHOP_TURN_REPEAT
            out.append(built)
        return out


# ------------------------------------------------------------------ models


def _stack(turns: list[Turn]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    X = np.vstack([t.X for t in turns]) if turns else np.zeros((0, len(SENT_FEATURES)))
    y = np.concatenate([t.y for t in turns]) if turns else np.zeros(0, int)
    return X, y, [len(t.y) for t in turns]


def _evaluator(spec: dict) -> Trees | Linear:
    """The run-time evaluator of a model spec (numpy only), so every score here is the turn's score."""
    return Trees(spec["lgbm"]) if spec["kind"] == "lgbm" else Linear(spec)


def fit_sentence_model(turns: list[Turn]) -> tuple[dict, object]:
    """LightGBM lambdarank, one query per turn: picking the best sentence of a turn is a ranking
    problem, and it beat pointwise LightGBM and logistic regression in the lab (train-CV and calib)."""
    import lightgbm as lgb

    X, y, sizes = _stack([t for t in turns for _ in range(t.repeat)])
    booster = lgb.train(SENTENCE_PARAMS, lgb.Dataset(X, y, group=sizes), num_boost_round=SENTENCE_ROUNDS)
    return {"kind": "lgbm", "objective": "lambdarank", "lgbm": booster.dump_model()}, booster


def fit_turn_model(F: np.ndarray, y: np.ndarray, C: float = TURN_C) -> dict:
    """Logistic regression on standardised turn features; a strong L2 penalty (small C) because there
    are only a few hundred turns and the features are correlated."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = F.mean(0), F.std(0) + 1e-6
    m = LogisticRegression(C=C, max_iter=2000).fit((F - mean) / scale, y)
    return {
        "kind": "lr",
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": m.coef_[0].tolist(),
        "intercept": float(m.intercept_[0]),
    }


def fit_platt(scores: np.ndarray, y: np.ndarray) -> dict:
    """Platt scaling: P(top answer correct) = sigmoid(a * score + b). Two parameters fit a small
    calibration split without the steps an isotonic table learns from 140 turns."""
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=1e6, max_iter=1000).fit(scores.reshape(-1, 1), y)
    return {"a": float(m.coef_[0][0]), "b": float(m.intercept_[0]), "method": "platt on calib split"}


def turn_matrix(turns: list[Turn], scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Turn features (run-time code) and whether the top sentence is gold; gold-removed turns are never right."""
    F = np.array([turn_features(t.X, s, t.keys, t.chunks) for t, s in zip(turns, scores, strict=True)])
    y = np.array(
        [int(len(s) > 0 and not t.removed and t.y[int(np.argmax(s))] == 1) for t, s in zip(turns, scores, strict=True)]
    )
    return F, y


def _folds(turns: list[Turn], salt: str, n: int = FOLDS) -> np.ndarray:
    return np.array([int(_h01(f"{salt}:{t.group}") * n) for t in turns])


def out_of_fold_scores(full: list[Turn], removed: list[Turn]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Sentence scores for the training turns from models that never saw their document group: the turn
    model must learn from scores as confident as they will be on unseen documents, not in-sample ones."""
    fold = _folds(full, "fold")
    if len(set(fold.tolist())) < 2:
        raise ValueError("the train split needs document groups in at least two cross-validation folds")
    oof_full: list[np.ndarray] = [np.zeros(0)] * len(full)
    oof_rm: list[np.ndarray] = [np.zeros(0)] * len(removed)
    for f in sorted(set(fold.tolist())):
        spec, _ = fit_sentence_model([t for t, g in zip(full, fold, strict=True) if g != f])
        m = _evaluator(spec)
        for i in np.nonzero(fold == f)[0]:
            oof_full[i] = m.logit(full[i].X) if len(full[i].y) else np.zeros(0)
            oof_rm[i] = m.logit(removed[i].X) if len(removed[i].y) else np.zeros(0)
    return oof_full, oof_rm


def choose_threshold(p: np.ndarray, y: np.ndarray, wrong_cost: float = WRONG_COST) -> tuple[float, dict]:
    """The P(answerable) threshold (answer when p >= it) that maximises correct - wrong_cost * wrong over
    the given turns. Candidates are the observed values plus "never answer"; on a tie the higher
    threshold wins, since it answers fewer turns for the same utility."""
    best, best_utility = math.inf, 0.0
    for th in np.unique(p)[::-1].tolist():
        ans = p >= th
        utility = float((ans & (y == 1)).sum() - wrong_cost * (ans & (y == 0)).sum())
        if utility > best_utility:
            best, best_utility = th, utility
    ans = p >= best
    row = _outcomes(ans, y)
    never = float(np.nextafter(1.0, 2.0))  # above any probability: escalate every turn
    return (never if math.isinf(best) else float(best)), {**row, "utility": best_utility}


def _outcomes(ans: np.ndarray, y: np.ndarray) -> dict:
    return {
        "correct": int((ans & (y == 1)).sum()),
        "wrong": int((ans & (y == 0)).sum()),
        "escalated": int((~ans).sum()),
    }


# ------------------------------------------------------------------ metrics


def auroc(y: Iterable, s: Iterable) -> float:
    """Area under the ROC curve (ties count half); nan when only one class is present."""
    from sklearn.metrics import roc_auc_score

    y, s = np.asarray(list(y)), np.asarray(list(s), float)
    return float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")


def ece(y: Iterable, p: Iterable, bins: int = 10) -> float:
    """Expected calibration error over equal-width probability bins."""
    y, p = np.asarray(list(y), float), np.asarray(list(p), float)
    e = 0.0
    for b in range(bins):
        m = (p >= b / bins) & ((p < (b + 1) / bins) if b < bins - 1 else (p <= 1))
        if m.any():
            e += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(e)


def sentence_metrics(turns: list[Turn], scores: list[np.ndarray]) -> dict:
    """top-1 / top-3: the best-scored sentences include a gold one; chunk hit@1: the chunk holding the
    best sentence comes from a gold document (RRF's own first chunk for comparison)."""
    top1 = top3 = cands = chunk_hit = rrf_hit = 0
    for t, s in zip(turns, scores, strict=True):
        if len(s) == 0:
            continue
        order = np.argsort(-s, kind="stable")
        top1 += int(t.y[order[0]] == 1)
        top3 += int(t.y[order[:3]].max() == 1)
        cands += int(t.y.max() == 1)
        best = np.full(len(t.chunks), -1e9)
        for (ci, _), v in zip(t.keys, s, strict=True):
            best[ci] = max(best[ci], v)
        chunk_hit += int(t.chunk_gold[int(np.argmax(best))])
        rrf_hit += int(t.chunk_gold[0])
    n = max(len(turns), 1)
    return {
        "n": len(turns),
        "top1": top1 / n,
        "top3": top3 / n,
        "chunk_hit1": chunk_hit / n,
        "rrf_hit1": rrf_hit / n,
        "gold_in_candidates": cands / n,
        "top1_n": top1,
        "top3_n": top3,
    }


def _column(turns: list[Turn], name: str) -> list[np.ndarray]:
    j = SENT_FEATURES.index(name)
    return [t.X[:, j] for t in turns]


def cross_fitted_ece(scores: np.ndarray, y: np.ndarray, groups: list[str]) -> float:
    """ECE of the calibration fitted on one half of the calib groups and applied to the other: an
    in-sample ECE flatters the fit."""
    half = np.array([_h01("cf:" + g) < 0.5 for g in groups])
    p = np.zeros(len(scores))
    for side in (True, False):
        fit, apply = half != side, half == side
        if not fit.any() or not apply.any():
            return float("nan")
        p[apply] = Calibrator(fit_platt(scores[fit], y[fit]))(scores[apply])
    return ece(y, p)


# ------------------------------------------------------------------ the run


@dataclass
class Trained:
    model: dict
    simulator: Simulator
    corpus: Corpus


def train(corpus: Corpus, split_of: dict[str, str], group_of: dict[str, str], log: Log = _quiet) -> Trained:
    """Fit the sentence ranker on train, the turn model on out-of-fold train scores, the calibration and
    the threshold on calib. Returns the model dict (the keys `support.reader.model.Reader` reads, plus
    the calibration-split figures); the test split is not touched."""
    sim = Simulator(corpus, split_of, group_of)
    tr_full, tr_rm = sim.turns("train", "full"), sim.turns("train", "removed")
    ca_full, ca_rm = sim.turns("calib", "full"), sim.turns("calib", "removed")
    mean_cands = np.mean([len(t.y) for t in tr_full]) if tr_full else 0.0
    log(
        f"simulated turns: train {len(tr_full)}+{len(tr_rm)} removed, calib {len(ca_full)}+{len(ca_rm)} removed; "
        f"{mean_cands:.1f} candidate sentences per train turn"
    )

    sent_spec, booster = fit_sentence_model(tr_full)
    sent = _evaluator(sent_spec)
    Xc = _stack(ca_full)[0]
    diff = float(np.abs(booster.predict(Xc, raw_score=True) - sent.logit(Xc)).max()) if len(Xc) else 0.0
    log(f"sentence ranker: {SENTENCE_ROUNDS} trees; numpy evaluator vs lightgbm on calib: max |diff| {diff:.1e}")
    if diff > 1e-6:
        raise RuntimeError(f"the run-time tree evaluator disagrees with LightGBM by {diff}")

    oof_full, oof_rm = out_of_fold_scores(tr_full, tr_rm)
    log(f"out-of-fold sentence scores for the turn model ({FOLDS} folds by document group)")
    F_tr, y_tr = turn_matrix(tr_full + tr_rm, oof_full + oof_rm)
    F_tr = F_tr[:, TURN_COLUMNS]
    turn_spec = fit_turn_model(F_tr, y_tr)
    turn = _evaluator(turn_spec)

    ca_turns = ca_full + ca_rm
    ca_scores = [sent.logit(t.X) for t in ca_turns]
    F_ca, y_ca = turn_matrix(ca_turns, ca_scores)
    s_ca = turn.logit(F_ca[:, TURN_COLUMNS])
    calibration = fit_platt(s_ca, y_ca)
    p_ca = Calibrator(calibration)(s_ca)
    threshold, at_threshold = choose_threshold(p_ca, y_ca)
    present = np.array([0 if t.removed else 1 for t in ca_turns])
    cos_max = F_ca[:, TURN_FEATURES.index("cos_s_max")]
    sentence_calib = sentence_metrics(ca_full, ca_scores[: len(ca_full)])
    figures = {
        "turns": len(ca_turns),
        "questions": len(ca_full),
        "answer_correct": int(y_ca.sum()),
        "sentence": sentence_calib,
        "baseline_max_cos_sentence": sentence_metrics(ca_full, _column(ca_full, "cos_s")),
        "auroc_top1_correct": auroc(y_ca, s_ca),
        "auroc_gold_present": auroc(present, s_ca),
        "auroc_top1_correct_baseline_max_cos": auroc(y_ca, cos_max),
        "ece_in_sample": ece(y_ca, p_ca),
        "ece_cross_fitted": cross_fitted_ece(s_ca, y_ca, [t.group for t in ca_turns]),
        "at_threshold": at_threshold,
    }
    log(
        f"calib: top-1 {sentence_calib['top1']:.3f}, top-3 {sentence_calib['top3']:.3f}, chunk hit@1 "
        f"{sentence_calib['chunk_hit1']:.3f}; AUROC top answer correct {figures['auroc_top1_correct']:.3f}, "
        f"gold present {figures['auroc_gold_present']:.3f}; ECE in-sample {figures['ece_in_sample']:.3f}, "
        f"cross-fitted {figures['ece_cross_fitted']:.3f}"
    )
    log(
        f"threshold {threshold:.4f} (maximises correct - {WRONG_COST:g} x wrong on {len(ca_turns)} calib turns): "
        f"{at_threshold['correct']} correct, {at_threshold['wrong']} wrong, {at_threshold['escalated']} escalated"
    )
    model = {
        "version": 2,
        "k": K,
        "sentence_model": sent_spec,
        "sentence_model_name": f"lambdarank {SENTENCE_ROUNDS}x{SENTENCE_PARAMS['num_leaves']}",
        "turn_model": turn_spec,
        "turn_model_name": f"turn lr C={TURN_C} over {', '.join(TURN_FEATURES_USED)}",
        "calibration": calibration,
        "sent_features": SENT_FEATURES,
        "turn_features": TURN_FEATURES,
        "turn_features_used": list(TURN_FEATURES_USED),
        "threshold": threshold,
        "threshold_rule": f"answer when p_answerable >= threshold; maximises correct - {WRONG_COST:g} x wrong "
        "over the calib split's turns (each question with its gold document group present and removed)",
        "trained_on": "doc2dial train split (support/reader/split.json), first and later user turns "
        "(support/reader/data/), with --shops also help centres written as training data (every "
        f"{SHOP_CALIB_EVERY}th shop in the calib split); calibration and threshold on the calib split",
        "calibration_figures": figures,
    }
    return Trained(model=model, simulator=sim, corpus=corpus)


def report_test(trained: Trained, model_path: Path, turn: str = "first") -> dict:
    """The held-out test figures for the model as written (loaded back through the run-time Reader),
    over the dialogues' first or later turns. Reporting only: nothing here feeds back into the model
    or its threshold."""
    sim = trained.simulator
    reader = Reader.load(model_path)
    threshold = float(reader.spec["threshold"])
    full, half = sim.turns("test", "full", turn), sim.turns("test", "half", turn)
    if not full:
        return {"turn": turn, "questions": 0}
    scores = [reader.sent.logit(t.X) for t in full]
    out: dict = {
        "turn": turn,
        "questions": len(full),
        "sentence": {
            "baseline max cos(q, sentence)": sentence_metrics(full, _column(full, "cos_s")),
            "baseline max cos(q, sentence+neighbours)": sentence_metrics(full, _column(full, "cos_nb")),
            "reader": sentence_metrics(full, scores),
        },
    }
    half_scores = [reader.sent.logit(t.X) for t in half]
    F, y = turn_matrix(half, half_scores)
    present = np.array([0 if t.removed else 1 for t in half])
    p = reader.calib(reader.turn.logit(F[:, reader.turn_columns]))
    cos_max = F[:, TURN_FEATURES.index("cos_s_max")]
    j = SENT_FEATURES.index("cos_s")
    y_base = np.array([int(len(t.y) > 0 and not t.removed and t.y[int(np.argmax(t.X[:, j]))] == 1) for t in half])
    out["answerability"] = {
        "turns": len(half),
        "gold_removed": int((1 - present).sum()),
        "auroc_top1_correct": auroc(y, p),
        "auroc_top1_correct_baseline_max_cos": auroc(y_base, cos_max),
        "auroc_gold_present": auroc(present, p),
        "auroc_gold_present_baseline_max_cos": auroc(present, cos_max),
        "ece": ece(y, p),
    }
    rows = sorted({*REPORT_THRESHOLDS, threshold})
    out["curve"] = [{"threshold": th, "chosen": th == threshold, **_outcomes(p >= th, y)} for th in rows]
    out["curve_baseline_max_cos"] = []
    for q in (0.0, 0.25, 0.5, 0.75):
        th = float(np.quantile(cos_max, q)) if len(cos_max) else 0.0
        out["curve_baseline_max_cos"].append(
            {"escalate_share": q, "cos_threshold": th, **_outcomes(cos_max >= th, y_base)}
        )
    return out


def format_test_report(r: dict) -> list[str]:
    """The test figures as plain-text lines for the command's output."""
    lines = [f"HELD-OUT TEST, {r['turn']} turns ({r['questions']} questions; reported, never used for a choice)"]
    if not r["questions"]:
        return lines
    for name, m in r["sentence"].items():
        lines.append(
            f"  {name:42s} top-1 {m['top1']:.3f} ({m['top1_n']})  top-3 {m['top3']:.3f} ({m['top3_n']})  "
            f"chunk hit@1 {m['chunk_hit1']:.3f}  (RRF {m['rrf_hit1']:.3f}, gold in candidates "
            f"{m['gold_in_candidates']:.3f})"
        )
    a = r["answerability"]
    lines.append(
        f"  answerability, {a['turns']} turns ({a['gold_removed']} gold removed): AUROC top answer correct "
        f"{a['auroc_top1_correct']:.3f} (max cos {a['auroc_top1_correct_baseline_max_cos']:.3f}), gold present "
        f"{a['auroc_gold_present']:.3f} (max cos {a['auroc_gold_present_baseline_max_cos']:.3f}), ECE {a['ece']:.3f}"
    )
    lines.append("  reader threshold   correct  wrong  escalated")
    for row in r["curve"]:
        mark = "  <- chosen on calib" if row["chosen"] else ""
        lines.append(
            f"  {row['threshold']:>16.3f}  {row['correct']:7d}  {row['wrong']:5d}  {row['escalated']:9d}{mark}"
        )
    lines.append("  baseline: escalate below a max-cos quantile   correct  wrong  escalated")
    for row in r["curve_baseline_max_cos"]:
        lines.append(
            f"  lowest {row['escalate_share']:4.0%} (cos < {row['cos_threshold']:.3f})"
            f"{'':17s}{row['correct']:7d}  {row['wrong']:5d}  {row['escalated']:9d}"
        )
    return lines


def _display(path: Path) -> str:
    """A path inside the project as a relative one, so the model file does not carry this machine's layout."""
    try:
        return str(path.resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


def _finite(value: object) -> object:
    """NaN (an AUROC over one class, on a tiny data set) becomes null: the model file stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def load_corpus(
    data_dir: Path = DEFAULT_DATA,
    split_path: Path = SPLIT_PATH,
    cache_dir: Path | None = None,
    later_turns: Path | None = LATER_TURNS,
    shops: Path | None = None,
    log: Log = _quiet,
) -> tuple[Corpus, dict[str, str], dict[str, str], dict, bool]:
    """The prepared corpus the simulation runs on (doc2dial, plus the training help centres when `shops`
    is given), each document's split and group, the counts per split, and whether the cache served it."""
    docs, questions = load_doc2dial(data_dir, later_turns)
    # The split is defined by the first turns (split.json); a later turn whose span also sits in a
    # document of another split is left out, so no span is learned on one side and tested on the other.
    group_of = document_groups(docs, [q for q in questions if q["turn"] == "first"])
    split_of = load_split(split_path, docs, group_of)
    questions = [
        q
        for q in questions
        if len({split_of[d] for d in [*q["doc_ids"], *q.get("answer_span_also_in_doc_ids", [])] if d in split_of}) == 1
    ]
    counts = {
        "docs": {s: sum(1 for d in docs if split_of[d["doc_id"]] == s) for s in SPLITS},
        "questions": {s: sum(1 for q in questions if split_of[q["doc_ids"][0]] == s) for s in SPLITS},
        "later_turns": {
            s: sum(1 for q in questions if q["turn"] == "later" and split_of[q["doc_ids"][0]] == s) for s in SPLITS
        },
    }
    log(f"doc2dial: {len(docs)} docs, {len(questions)} questions; split {counts}")
    corpus, cached = prepare_cached(docs, questions, data_dir, cache_dir, log)
    shop_docs, shop_questions = load_shops(shops)
    if shop_docs:
        shop_corpus = prepare(shop_docs, shop_questions, log)
        unlabelled = sum(1 for g in shop_corpus.gold if not g)
        corpus = merge(corpus, shop_corpus)
        for d in shop_docs:
            split_of[d["doc_id"]] = d["split"]
            group_of[d["doc_id"]] = d["doc_id"]
        counts["shops"] = {
            "help_centres": len({d["kb"] for d in shop_docs}),
            "articles": len(shop_docs),
            "questions": {sp: sum(1 for q in shop_questions if split_of[q["doc_ids"][0]] == sp) for sp in SPLITS},
            "without_gold_sentence": unlabelled,
        }
        log(f"shops: {counts['shops']}")
    return corpus, split_of, group_of, counts, cached


def run(
    out: Path,
    data_dir: Path = DEFAULT_DATA,
    split_path: Path = SPLIT_PATH,
    cache_dir: Path | None = None,
    report: bool = False,
    log: Log = _quiet,
    later_turns: Path | None = LATER_TURNS,
    shops: Path | None = None,
) -> dict:
    """Train from the data folder and write the model JSON to `out`; with `report`, also evaluate the
    written model on the held-out test split. Returns {"model": ..., "test": ... or None}."""
    t0 = time.perf_counter()
    check_data(data_dir, split_path)
    loaded = load_corpus(data_dir, split_path, cache_dir, later_turns, shops, log)
    corpus, split_of, group_of, counts, cached = loaded
    t_prepared = time.perf_counter()
    trained = train(corpus, split_of, group_of, log)
    t_trained = time.perf_counter()
    model = trained.model
    model.update(
        {
            "trained_at": datetime.now(UTC).strftime("%Y-%m-%d"),
            "data": {**provenance(data_dir), "split": _display(split_path)},
            "split_sizes": {**counts, "train_turns": 2 * counts["questions"]["train"]},
            "training_seconds": round(t_trained - t0, 1),
            "training_seconds_by_step": {
                "load_parse_chunk_embed": round(t_prepared - t0, 1),
                "fit": round(t_trained - t_prepared, 1),
                "prepared_from_cache": cached,
            },
        }
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_finite(model), allow_nan=False))
    log(f"wrote {out} ({out.stat().st_size // 1024} KB); training took {model['training_seconds']:.0f}s")
    test = {turn: report_test(trained, out, turn) for turn in ("first", "later")} if report else None
    for figures in (test or {}).values():
        for line in format_test_report(figures):
            log(line)
    return {"model": model, "test": test}
