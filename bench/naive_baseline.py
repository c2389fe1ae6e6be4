"""The naive retrieval baseline of FINDINGS.md, rebuilt from its description and run here.

FINDINGS.md gives document hit@1 / hit@5 of a "naive baseline" on the public
sets that Groundwork must beat, described as: chunks of 150-230 tokens at
sentence boundaries; vector = cosine, BM25 stemmed with stopwords removed;
hybrid = reciprocal-rank fusion (k = 60) of the two, top 50 from each; chunk
text "body only" or "heading path + body". Its code is not available, so this
script rebuilds it from that description alone, with the same embedding model
and the same documents as bench/public_qa.py, and scores it the same way:

- chunks: each document parsed by knowledge.parsing (as bench/public_qa.py
  files it), its sentences (list items whole) packed in reading order, across
  section boundaries, until a chunk reaches 150 tokens, never past 230 (a
  single longer sentence is a chunk of its own); the heading path is the one
  of the chunk's first sentence;
- vector: exact cosine over all chunks (numpy), no index;
- BM25: lower-cased words, scikit-learn's English stop words removed, Snowball
  (English) stems, k1 = 1.2, b = 0.75, length = word count;
- hit@1: the top chunk's document is gold; hit@5 two ways: "chunks" = a gold
  document among the top-5 chunks' documents (what bench/public_qa.py reports
  for Groundwork), "documents" = among the first 5 distinct documents of the
  ranking's top-20 chunks (the depth bench/public_qa.py uses).

No database: it embeds about 2,500 chunks (a few minutes on 2 cores).

Run from the project root:
  .venv/bin/python bench/naive_baseline.py [--set conditionalqa|doc2dial|all]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

RRF_K = 60
DEPTH = 50
LOW, HIGH = 150, 230
K1, B = 1.2, 0.75
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def window_chunks(doc: dict, count_tokens: Callable[[list[str]], list[int]], with_heading: bool) -> list[str]:
    from knowledge.chunking import HEADING_SEPARATOR
    from knowledge.parsing import parse_document
    from knowledge.text import split_sentences

    parsed = parse_document(_common.source_key(doc), _common.as_file(doc))
    units = [
        (block.heading_path, sentence)
        for block in parsed.blocks
        for sentence in ([block.text] if block.is_item else split_sentences(block.text))
    ]
    tokens = count_tokens([text for _, text in units])
    groups: list[list[tuple[tuple[str, ...], str]]] = []
    current: list[tuple[tuple[str, ...], str]] = []
    size = 0
    for unit, n in zip(units, tokens, strict=True):
        if current and size + n > HIGH:
            groups.append(current)
            current, size = [], 0
        current.append(unit)
        size += n
        if size >= LOW:
            groups.append(current)
            current, size = [], 0
    if current:
        groups.append(current)
    chunks = []
    for group in groups:
        body = " ".join(text for _, text in group)
        heading = HEADING_SEPARATOR.join(group[0][0])
        chunks.append(f"{heading}\n{body}" if with_heading and heading else body)
    return chunks


class BM25:
    """Okapi BM25 over a fixed list of texts."""

    def __init__(self, texts: list[str]):
        import snowballstemmer
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        self._stem = snowballstemmer.stemmer("english").stemWord
        self._stop = ENGLISH_STOP_WORDS
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = []
        for i, text in enumerate(texts):
            terms = self.terms(text)
            lengths.append(len(terms))
            for term, tf in Counter(terms).items():
                self.postings[term].append((i, tf))
        self.lengths = np.array(lengths, dtype=np.float64)
        self.avg = max(1.0, float(self.lengths.mean()))
        self.n = len(texts)

    def terms(self, text: str) -> list[str]:
        return [self._stem(w) for w in _WORD.findall(text.lower()) if w not in self._stop]

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(self.n)
        for term in set(self.terms(query)):
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (self.n - len(posting) + 0.5) / (len(posting) + 0.5))
            for i, tf in posting:
                out[i] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * self.lengths[i] / self.avg))
        return out


def rankings(cosines: np.ndarray, bm25: np.ndarray) -> dict[str, list[int]]:
    vector = list(np.argsort(-cosines, kind="stable")[:DEPTH])
    text = [i for i in np.argsort(-bm25, kind="stable")[:DEPTH] if bm25[i] > 0]
    fused: dict[int, float] = defaultdict(float)
    for ranking in (vector, text):
        for rank, i in enumerate(ranking, start=1):
            fused[i] += 1.0 / (RRF_K + rank)
    hybrid = sorted(fused, key=lambda i: (-fused[i], -cosines[i], i))
    return {"hybrid": hybrid, "vector": vector, "text": text}


def score(name: str, docs: list[dict], queries: list[tuple[str, set[str]]], with_heading: bool) -> dict:
    from core import embeddings

    texts: list[str] = []
    owner: list[str] = []
    for doc in docs:
        for chunk in window_chunks(doc, embeddings.count_tokens, with_heading):
            texts.append(chunk)
            owner.append(doc["doc_id"])
    start = time.perf_counter()
    matrix = embeddings.embed_passages(texts, batch_size=32)
    print(f"  {name}: {len(texts)} chunks embedded in {time.perf_counter() - start:.0f} s", flush=True)
    index = BM25(texts)
    counts: Counter[str] = Counter()
    for query, gold in queries:
        order = rankings(matrix @ embeddings.embed_query(query), index.scores(query))
        for mode, ranking in order.items():
            owners = [owner[i] for i in ranking]
            for at, hit in _common.document_hits(owners, gold).items():
                counts[f"{mode}{at}"] += hit
    n = len(queries)
    return {"chunks": len(texts)} | {key: 100 * value / n for key, value in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=["conditionalqa", "doc2dial", "all"], default="all")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()  # settings only: this script never opens a database connection
    facts = _common.machine()
    print(f"command: .venv/bin/python bench/naive_baseline.py {' '.join(sys.argv[1:])}".rstrip())
    print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()), flush=True)

    from bench.public_qa import load_set

    names = list(_common.DATASETS) if args.set == "all" else [args.set]
    rows = []
    for name in names:
        docs, questions = load_set(name)
        variants: list[tuple[str, list[tuple[str, set[str]]]]] = []
        if name == "conditionalqa":
            variants.append(
                ("conditionalqa", [(f"{q['scenario']} {q['question']}".strip(), set(q["doc_ids"])) for q in questions])
            )
            variants.append(("conditionalqa-question-only", [(q["question"], set(q["doc_ids"])) for q in questions]))
        else:
            variants.append(("doc2dial", [(q["question"], set(q["doc_ids"])) for q in questions]))
        for with_heading in (False, True):
            chunk_text = "heading path + body" if with_heading else "body only"
            for label, queries in variants:
                result = score(label, docs, queries, with_heading)
                for mode in ("hybrid", "vector", "text"):
                    given = _common.FINDINGS_BASELINES.get((label, chunk_text), {}).get(mode)
                    rows.append(
                        [
                            label,
                            chunk_text,
                            mode,
                            f"{result[f'{mode}@1']:.1f} / {result[f'{mode}@5']:.1f} / {result[f'{mode}@5d']:.1f}",
                            f"{given[0]} / {given[1]}" if given else "not given",
                        ]
                    )
    print()
    print(
        _common.table(
            [
                "set",
                "chunk text",
                "mode",
                "rebuilt naive hit@1 / hit@5 chunks / hit@5 documents (%)",
                "FINDINGS.md hit@1 / hit@5 (%)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
