"""The reader's features: what a turn's candidate sentences look like to the learned scorer.

Computed at run time from what the hybrid search returns (the chunks' sentence
spans and ingestion-time sentence vectors, chunk cosine, vector and BM25
ranks and score, heading path and its vector) plus the knowledge base's own
term statistics. No word here names a product, a place or a shop: the lists
are English function words, question words and generic value shapes (money,
durations, dates, contacts), the same for every knowledge base.
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np

from support.pipeline.lexicon import stem

# English function words, chat openers and question words: the reader's own list, frozen with its
# weights (support.pipeline.lexicon.STOPWORDS, for verification, is longer; changing this one means retraining).
STOP = set(
    """a an the and or but if then else of to in on at by for with from into onto about as is are was were be been
    being am do does did doing have has had having i me my mine we our ours you your yours he him his she her it its
    they them their this that these those there here what which who whom whose when where why how can could may might
    must shall should will would not no nor so than too very just also only own same such both each few more most
    other some any all up down out over under again further once hi hello hey thanks thank please want need like
    know question questions help get got im ive id dont cant let lets tell would about some something anything one
    am pm s t""".split()
)
_WORD = re.compile(r"[a-z0-9]+")
_MONEY = re.compile(r"[$€£¥]\s?\d|\d\s?(?:usd|eur|gbp|dollars?|euros?|pounds?|cents?)\b", re.I)
_DURATION = re.compile(
    r"\b\d+\s?(?:-|to)?\s?\d*\s?(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|business days?)\b",
    re.I,
)
_DATE = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday)\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b(?:19|20)\d{2}\b",
    re.I,
)
# A web or mail address, or a phone number written in groups of digits (any country's grouping).
_CONTACT = re.compile(
    r"https?://|www\.|\b\S+@\S+\.\w+|\+\d[\d\s().-]{6,}\d|\(?\b\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,4}\b", re.I
)
_PERCENT = re.compile(r"\d\s?%|\bpercent\b", re.I)
_DIGIT = re.compile(r"\d")
_MODAL = re.compile(r"\b(?:must|can|cannot|can't|may|should|need|needs|required?|allowed|eligible|have to)\b", re.I)
_YOU = re.compile(r"\b(?:you|your)\b", re.I)
_NEG = re.compile(r"\b(?:not|no|never|cannot|can't|don't|doesn't|won't|unless|except)\b", re.I)

QTYPES = [
    "what",
    "how",
    "howmuch",
    "howlong_when",
    "where",
    "who",
    "why",
    "can",
    "yesno",
    "which",
    "statement",
    "has_qmark",
]


def tokens(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOP and len(w) > 1]


def states_amount(text: str) -> bool:
    """A price, fee or share: money or a percentage."""
    return bool(_MONEY.search(text) or _PERCENT.search(text))


def states_time(text: str) -> bool:
    """A period or a date."""
    return bool(_DURATION.search(text) or _DATE.search(text))


def qtype(question: str) -> np.ndarray:
    q = question.lower()
    words = _WORD.findall(q)
    v = np.zeros(len(QTYPES))
    first = None
    for w in words:  # the first question word anywhere (first turns often start with "Hi, ...")
        if w in (
            "what",
            "how",
            "when",
            "where",
            "who",
            "why",
            "which",
            "can",
            "could",
            "may",
            "do",
            "does",
            "did",
            "is",
            "are",
            "will",
            "should",
            "am",
            "was",
        ):
            first = w
            break
    if re.search(r"\bhow (?:much|many)\b|\bcost|\bfee|\bprice", q):
        v[2] = 1
    if re.search(r"\bhow long\b|\bwhen\b|\bdeadline|\bhow soon", q):
        v[3] = 1
    if first == "what":
        v[0] = 1
    elif first == "how":
        v[1] = 1
    elif first == "where":
        v[4] = 1
    elif first == "who":
        v[5] = 1
    elif first == "why":
        v[6] = 1
    elif first in ("can", "could", "may", "should"):
        v[7] = 1
    elif first in ("do", "does", "did", "is", "are", "will", "am", "was"):
        v[8] = 1
    elif first == "which":
        v[9] = 1
    elif first is None:
        v[10] = 1
    v[11] = 1.0 if "?" in question else 0.0
    return v


SENT_FEATURES = (
    [
        "cos_s",
        "cos_nb",
        "cos_nbmax",
        "cos_c",
        "cos_h",
        "cos_s_gap",
        "cos_s_z",
        "lrank_cos_s",
        "lrank_cos_nb",
        "cos_s_chunkgap",
        "lrank_chunk",
        "lvector_rank",
        "ltext_rank",
        "rank_disagree",
        "no_text_hit",
        "bm25_rel",
        "lex_s",
        "lex_sh",
        "lex_h",
        "lex_nb",
        "lex_s_gap",
        "lrank_lex_sh",
        "bigram",
        "pos_in_chunk",
        "first_in_chunk",
        "last_in_chunk",
        "section_lead",
        "is_item",
        "table_row",
        "llen",
        "ends_q",
        "has_digit",
        "money",
        "duration",
        "date",
        "contact",
        "percent",
        "you",
        "modal",
        "neg",
        "heading_depth",
        "same_head_as_top",
        "n_chunks_same_doc",
        "q_llen",
        "q_oov",
        "q_lex_best",
        "chunk_lex_max",
        "chunk_cos_max",
    ]
    + ["q_" + t for t in QTYPES]
    + ["x_much_money", "x_when_dur", "x_where_contact", "x_how_you", "x_yesno_modal", "x_what_first"]
)
TURN_FEATURES = [
    "p1",
    "p2",
    "margin",
    "logit1",
    "cos_s1",
    "cos_s_max",
    "cos_c1",
    "cos_h_max",
    "lex_sh1",
    "lex_max",
    "q_oov",
    "q_llen",
    "bm25_top_log",
    "rank_disagree_top",
    "entropy",
    "ndocs_top3",
    "p_chunk1",
    "same_doc_top2",
    "stmt",
]


def _log_rank(values: np.ndarray) -> np.ndarray:
    order = np.argsort(-values, kind="stable")
    r = np.empty(len(values))
    r[order] = np.arange(1, len(values) + 1)
    return np.log(r)


def featurize(question: str, q_vec: np.ndarray, chunks: list[dict], kb_stats: dict | None = None):
    """Feature matrix for the turn's candidate sentences (deduplicated by text) and their (chunk, index)."""
    q_vec = np.asarray(q_vec, dtype=np.float32)
    q_toks = list(dict.fromkeys(tokens(question)))
    qt = qtype(question)
    c_head = [set(tokens(c["heading_path"])) for c in chunks]
    c_stl = [[tokens(c["text"][a:b]) for a, b in c["sentence_spans"]] for c in chunks]
    if kb_stats:
        n = kb_stats["n"]
        dfs = np.array([kb_stats["df"].get(t, 0) for t in q_toks], dtype=float)
    else:
        n = len(chunks)
        chunk_tok = [h.union(*map(set, sl)) for h, sl in zip(c_head, c_stl, strict=False)]
        dfs = np.array([sum(t in ct for ct in chunk_tok) for t in q_toks], dtype=float)
    idf = np.log((n + 1) / (dfs + 0.5)) if len(q_toks) else np.zeros(0)
    idf_sum = idf.sum() + 1e-9
    q_oov = float((dfs == 0).mean()) if len(q_toks) else 0.0
    q_bigrams = set(itertools.pairwise(q_toks))

    def lex(tokset):
        if not len(q_toks):
            return 0.0
        return float(sum(w for t, w in zip(q_toks, idf, strict=False) if t in tokset) / idf_sum)

    rows, keys, texts, seen = [], [], [], set()
    bm = np.array([float(c.get("bm25") or 0.0) for c in chunks])
    bm_max = bm.max() if len(bm) and bm.max() > 0 else 1.0
    top_head = chunks[0]["heading_path"] if chunks else ""
    chunks[0].get("doc_id") if chunks else None
    for ci, c in enumerate(chunks):
        spans = c["sentence_spans"]
        if not spans:
            continue
        sv = np.asarray(c["sentence_vectors"], dtype=np.float32)
        cs = sv @ q_vec
        # neighbours within the chunk
        nb = sv.copy()
        nb[1:] += sv[:-1]
        nb[:-1] += sv[1:]
        nb /= np.linalg.norm(nb, axis=1, keepdims=True) + 1e-9
        cnb = nb @ q_vec
        prev = np.concatenate([[-1.0], cs[:-1]])
        nxt = np.concatenate([cs[1:], [-1.0]])
        hv = c.get("heading_vector")
        cos_h = float(np.asarray(hv, np.float32) @ q_vec) if hv is not None else float(c["cosine"])
        head_toks = c_head[ci]
        stexts = [c["text"][s:e] for s, e in spans]
        stoks = [set(sl) for sl in c_stl[ci]]
        vr = c.get("vector_rank") or 200
        tr = c.get("text_rank") or 0
        ltr = math.log(tr) if tr else math.log(200)
        same_doc = sum(1 for o in chunks if o.get("doc_id") is not None and o.get("doc_id") == c.get("doc_id"))
        lex_h = lex(head_toks)
        chunk_lex = max(lex(st | head_toks) for st in stoks)
        skip = c.get("skip") or ()
        for j, (s, _e) in enumerate(spans):
            if j in skip:
                continue
            t = stexts[j]
            key = " ".join(t.split()).lower()
            if key in seen:
                continue
            seen.add(key)
            line_start = c["text"].rfind("\n", 0, s) + 1
            is_item = c["text"][line_start:s].startswith("- ")
            st = stoks[j]
            nbt = st | (stoks[j - 1] if j > 0 else set()) | (stoks[j + 1] if j + 1 < len(spans) else set())
            stl = c_stl[ci][j]
            bigr = len(q_bigrams & set(itertools.pairwise(stl)))
            f = {
                "cos_s": cs[j],
                "cos_nb": cnb[j],
                "cos_nbmax": max(prev[j], nxt[j]),
                "cos_c": float(c["cosine"]),
                "cos_h": cos_h,
                "cos_s_chunkgap": cs[j] - cs.max(),
                "lrank_chunk": math.log(ci + 1),
                "lvector_rank": math.log(vr),
                "ltext_rank": ltr,
                "rank_disagree": abs(math.log(vr) - ltr),
                "no_text_hit": 0.0 if tr else 1.0,
                "bm25_rel": bm[ci] / bm_max,
                "lex_s": lex(st),
                "lex_sh": lex(st | head_toks),
                "lex_h": lex_h,
                "lex_nb": lex(nbt),
                "bigram": min(bigr, 3),
                "pos_in_chunk": math.log1p(j),
                "first_in_chunk": float(j == 0),
                "last_in_chunk": float(j == len(spans) - 1),
                "section_lead": float(j == 0 and not c.get("section_chunk_index", 0)),
                "is_item": float(is_item),
                "table_row": float(t.count("|") >= 2 or "\t" in t),
                "llen": math.log1p(len(t.split())),
                "ends_q": float(t.rstrip().endswith("?")),
                "has_digit": float(bool(_DIGIT.search(t))),
                "money": float(bool(_MONEY.search(t))),
                "duration": float(bool(_DURATION.search(t))),
                "date": float(bool(_DATE.search(t))),
                "contact": float(bool(_CONTACT.search(t))),
                "percent": float(bool(_PERCENT.search(t))),
                "you": float(bool(_YOU.search(t))),
                "modal": float(bool(_MODAL.search(t))),
                "neg": float(bool(_NEG.search(t))),
                "heading_depth": float(c["heading_path"].count("›")),
                "same_head_as_top": float(c["heading_path"] == top_head and ci > 0),
                "n_chunks_same_doc": math.log(max(same_doc, 1)),
                "q_llen": math.log1p(len(q_toks)),
                "q_oov": q_oov,
                "chunk_lex_max": chunk_lex,
                "chunk_cos_max": float(cs.max()),
            }
            rows.append(f)
            keys.append((ci, j))
            texts.append(t)
    if not rows:
        return np.zeros((0, len(SENT_FEATURES))), keys, texts
    cos_s = np.array([r["cos_s"] for r in rows])
    cos_nb = np.array([r["cos_nb"] for r in rows])
    lex_s = np.array([r["lex_s"] for r in rows])
    lex_sh = np.array([r["lex_sh"] for r in rows])
    extra = {
        "cos_s_gap": cos_s - cos_s.max(),
        "cos_s_z": (cos_s - cos_s.mean()) / (cos_s.std() + 1e-6),
        "lrank_cos_s": _log_rank(cos_s),
        "lrank_cos_nb": _log_rank(cos_nb),
        "lex_s_gap": lex_s - lex_s.max(),
        "lrank_lex_sh": _log_rank(lex_sh + 1e-3 * cos_s),
        "q_lex_best": np.full(len(rows), lex_sh.max()),
    }
    X = np.zeros((len(rows), len(SENT_FEATURES)))
    idx = {n: i for i, n in enumerate(SENT_FEATURES)}
    for i, r in enumerate(rows):
        for k, v in r.items():
            X[i, idx[k]] = v
    for k, v in extra.items():
        X[:, idx[k]] = v
    for i, t in enumerate(QTYPES):
        X[:, idx["q_" + t]] = qt[i]
    X[:, idx["x_much_money"]] = qt[2] * X[:, idx["money"]]
    X[:, idx["x_when_dur"]] = qt[3] * np.maximum(X[:, idx["duration"]], X[:, idx["date"]])
    X[:, idx["x_where_contact"]] = qt[4] * X[:, idx["contact"]]
    X[:, idx["x_how_you"]] = qt[1] * X[:, idx["you"]]
    X[:, idx["x_yesno_modal"]] = np.maximum(qt[7], qt[8]) * X[:, idx["modal"]]
    X[:, idx["x_what_first"]] = qt[0] * X[:, idx["first_in_chunk"]]
    return X, keys, texts


def turn_features(X: np.ndarray, logits: np.ndarray, keys, chunks) -> np.ndarray:
    idx = {n: i for i, n in enumerate(SENT_FEATURES)}
    f = np.zeros(len(TURN_FEATURES))
    if len(logits) == 0:
        return f
    p = 1 / (1 + np.exp(-logits))
    order = np.argsort(-logits, kind="stable")
    t1 = order[0]
    p2 = p[order[1]] if len(order) > 1 else 0.0
    soft = np.exp(logits - logits.max())
    soft /= soft.sum()
    top3_docs = {chunks[k[0]].get("doc_id", k[0]) for k in keys[:0]} or {
        c.get("doc_id", i) for i, c in enumerate(chunks[:3])
    }
    c1 = keys[t1][0]
    second_doc = chunks[keys[order[1]][0]].get("doc_id") if len(order) > 1 else None
    bm = max(float(c.get("bm25") or 0.0) for c in chunks)
    vals = {
        "p1": p[t1],
        "p2": p2,
        "margin": p[t1] - p2,
        "logit1": logits[t1],
        "cos_s1": X[t1, idx["cos_s"]],
        "cos_s_max": X[:, idx["cos_s"]].max(),
        "cos_c1": X[t1, idx["cos_c"]],
        "cos_h_max": X[:, idx["cos_h"]].max(),
        "lex_sh1": X[t1, idx["lex_sh"]],
        "lex_max": X[:, idx["lex_sh"]].max(),
        "q_oov": X[0, idx["q_oov"]],
        "q_llen": X[0, idx["q_llen"]],
        "bm25_top_log": math.log1p(bm),
        "rank_disagree_top": X[t1, idx["rank_disagree"]],
        "entropy": float(-(soft * np.log(soft + 1e-12)).sum() / math.log(len(soft) + 1)),
        "ndocs_top3": float(len(top3_docs)),
        "p_chunk1": math.log(c1 + 1),
        "same_doc_top2": float(second_doc is not None and second_doc == chunks[c1].get("doc_id")),
        "stmt": X[0, idx["q_statement"]],
    }
    for i, n in enumerate(TURN_FEATURES):
        f[i] = vals[n]
    return f
