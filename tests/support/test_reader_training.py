"""Training the reader (support.reader.training, manage.py train_reader) on a tiny synthetic doc2dial-shaped
set: the written model loads in the run-time Reader and puts the known answer sentence first."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from core import embeddings
from support.reader import training
from support.reader.features import tokens
from support.reader.model import Reader

# (doc_id, title, sections of (heading, sentences), questions of (question, answer sentence))
DOCS = [
    (
        "t-passport",
        "Passport renewal",
        [
            ("Renewing by mail", ["You can renew a passport by mail.", "Mailed renewals take six weeks to process."]),
            ("Fees", ["The renewal fee is 130 dollars.", "Pay the fee with a check or money order."]),
        ],
        [
            ("How long does a mailed renewal take to process?", "Mailed renewals take six weeks to process."),
            ("What is the renewal fee?", "The renewal fee is 130 dollars."),
            ("Can I pay with a money order?", "Pay the fee with a check or money order."),
        ],
    ),
    (
        "t-license",
        "Driver license",
        [
            ("Road test", ["Book the road test online.", "Bring your learner permit to the road test."]),
            ("Replacement", ["A lost license is replaced at any office.", "Replacement cards arrive within ten days."]),
        ],
        [
            ("What should I bring to the road test?", "Bring your learner permit to the road test."),
            ("Where is a lost license replaced?", "A lost license is replaced at any office."),
            ("When do replacement cards arrive?", "Replacement cards arrive within ten days."),
        ],
    ),
    (
        "t-benefits",
        "Retirement benefits",
        [
            ("Applying", ["Apply for retirement benefits four months early.", "The application takes thirty minutes."]),
            ("Payments", ["Benefit payments arrive on Wednesdays.", "Direct deposit is required for payments."]),
        ],
        [
            ("How early should I apply for retirement benefits?", "Apply for retirement benefits four months early."),
            ("On which day do benefit payments arrive?", "Benefit payments arrive on Wednesdays."),
            ("Is direct deposit required?", "Direct deposit is required for payments."),
        ],
    ),
    (
        "t-loans",
        "Student loans",
        [
            ("Repayment", ["Repayment starts six months after graduation.", "Interest accrues during deferment."]),
            ("Forgiveness", ["Teachers may qualify for loan forgiveness.", "Forgiveness requires five years of work."]),
        ],
        [
            ("When does repayment start?", "Repayment starts six months after graduation."),
            ("Who may qualify for loan forgiveness?", "Teachers may qualify for loan forgiveness."),
            ("Does interest accrue during deferment?", "Interest accrues during deferment."),
        ],
    ),
    (
        "t-veterans",
        "Veterans health care",
        [
            ("Eligibility", ["Veterans with an honorable discharge can enroll.", "Enrollment is open all year."]),
            ("Costs", ["Some veterans pay a small copay.", "Prescriptions cost eleven dollars a month."]),
        ],
        [
            ("Who can enroll in health care?", "Veterans with an honorable discharge can enroll."),
            ("How much do prescriptions cost?", "Prescriptions cost eleven dollars a month."),
            ("Is enrollment open all year?", "Enrollment is open all year."),
        ],
    ),
    (
        "t-address",
        "Change of address",
        [
            ("Online", ["Update your address online in five minutes.", "A confirmation email follows the update."]),
            ("By phone", ["Call the helpline to change your address.", "The helpline opens at eight."]),
        ],
        [
            ("How do I update my address online?", "Update your address online in five minutes."),
            ("When does the helpline open?", "The helpline opens at eight."),
            ("What follows the update?", "A confirmation email follows the update."),
        ],
    ),
]
SPLIT = {
    "train": ["t-passport", "t-license", "t-benefits", "t-loans"],
    "calib": ["t-veterans"],
    "test": ["t-address"],
}


def _vector(text: str) -> np.ndarray:
    """A stand-in for the embedding model: hashed bag of stems, so related texts point the same way."""
    v = np.zeros(384, dtype=np.float32)
    for t in tokens(text):
        h = zlib.crc32(t.encode())
        v[h % 384] += 1.0 if h & 1024 else -1.0
    n = np.linalg.norm(v)
    return v / n if n else v


def fake_embed_passages(texts: list[str], *, batch_size: int | None = None) -> np.ndarray:
    return np.array([_vector(t) for t in texts], dtype=np.float32).reshape(len(texts), 384)


def fake_embed_with_spans(texts, spans, *, batch_size=None):
    per_span = [
        np.array([_vector(t[s:e]) for s, e in sp], dtype=np.float32).reshape(len(sp), 384)
        for t, sp in zip(texts, spans, strict=True)
    ]
    return fake_embed_passages(texts), per_span


@pytest.fixture
def synthetic(tmp_path, monkeypatch) -> Path:
    """doc2dial's layout (docs.jsonl, questions.jsonl) plus a split, in a temporary folder."""
    monkeypatch.setattr(embeddings, "embed_passages", fake_embed_passages)
    monkeypatch.setattr(embeddings, "embed_with_spans", fake_embed_with_spans)
    docs, questions = [], []
    for doc_id, title, sections, qs in DOCS:
        text = "\n\n".join(f"{heading}\n{' '.join(sentences)}" for heading, sentences in sections)
        docs.append({"doc_id": doc_id, "title": title, "text": text})
        for n, (question, answer) in enumerate(qs):
            questions.append(
                {
                    "qid": f"{doc_id}-{n}",
                    "question": question,
                    "doc_ids": [doc_id],
                    "answer_span": answer,
                    "answer_start": text.index(answer),
                    "answer_span_also_in_doc_ids": [],
                }
            )
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (tmp_path / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    (tmp_path / "split.json").write_text(json.dumps(SPLIT))
    return tmp_path


def test_training_writes_a_model_the_runtime_reader_loads_and_that_finds_the_answers(synthetic, tmp_path):
    out = tmp_path / "model" / "reader.json"
    result = training.run(out, data_dir=synthetic, split_path=synthetic / "split.json", report=True, shops=None)

    spec = json.loads(out.read_text())  # strict JSON: no NaN
    for key in ("sentence_model", "turn_model", "calibration", "sent_features", "turn_features", "k", "threshold"):
        assert key in spec
    assert spec["sentence_model"]["objective"] == "lambdarank"
    assert len(spec["sentence_model"]["lgbm"]["tree_info"]) == training.SENTENCE_ROUNDS
    assert 0.0 <= spec["threshold"] <= 1.0
    assert spec["split_sizes"]["questions"] == {"train": 12, "calib": 3, "test": 3}
    assert spec["data"]["path"] == str(synthetic)
    assert spec["training_seconds"] >= 0
    assert result["test"]["first"]["questions"] == 3
    assert result["test"]["later"]["questions"] == 0  # the committed later turns name no synthetic document

    # The run-time reader, on turns retrieved from the whole synthetic knowledge base.
    reader = Reader.load(out)
    docs, questions = training.load_doc2dial(synthetic)
    corpus = training.prepare(docs, questions)
    kb = training.KnowledgeBase(corpus, list(range(len(corpus.chunks))))
    first = 0
    for qi, q in enumerate(questions):
        chunks, stats = kb.retrieve(qi)
        scored = reader.score(q["question"], corpus.question_vectors[qi], chunks, stats)
        assert 0.0 <= scored["p_answerable"] <= 1.0
        first += scored["top"]["text"] == q["answer_span"]
    assert first >= 0.75 * len(questions), f"answer ranked first for only {first} of {len(questions)}"


def test_the_threshold_maximises_correct_minus_twice_wrong():
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    y = np.array([1, 1, 0, 1, 0, 0])
    threshold, row = training.choose_threshold(p, y)
    assert threshold == 0.8  # 2 correct, 0 wrong (utility 2); 0.6 would give 3 - 2 x 1 = 1
    assert row == {"correct": 2, "wrong": 0, "escalated": 4, "utility": 2.0}
    never, row = training.choose_threshold(np.array([0.9, 0.5]), np.array([0, 0]))
    assert never > 1.0 and row["escalated"] == 2


def test_train_reader_fails_clearly_without_the_data_folder(tmp_path):
    with pytest.raises(CommandError, match=r"training data missing: .*nowhere/docs\.jsonl"):
        call_command("train_reader", data=tmp_path / "nowhere", out=tmp_path / "reader.json")
    assert not (tmp_path / "reader.json").exists()


def test_later_turns_keep_the_document_split_and_are_reported_apart(synthetic, tmp_path):
    lines = (synthetic / "docs.jsonl").read_text().splitlines()
    docs = {json.loads(line)["doc_id"]: json.loads(line) for line in lines}

    def turn(qid: str, question: str, doc_id: str, answer: str, also: list[str]) -> dict:
        text = docs[doc_id]["text"]
        return {
            "qid": qid,
            "question": question,
            "doc_ids": [doc_id],
            "answer_span": answer,
            "answer_start": text.index(answer),
            "answer_span_also_in_doc_ids": also,
        }

    later = tmp_path / "later.jsonl"
    rows = [
        turn("l-train", "Do I pay the fee by check?", "t-passport", "Pay the fee with a check or money order.", []),
        turn("l-calib", "Do I pay a copay as a veteran?", "t-veterans", "Some veterans pay a small copay.", []),
        turn("l-test", "Does an email follow?", "t-address", "A confirmation email follows the update.", []),
        # Its span is also said to sit in a test document: learning it would teach the test side.
        turn("l-cross", "How fast are mailed renewals?", "t-passport", "Mailed renewals take six weeks", ["t-address"]),
        {**turn("l-gone", "Is this on a page we do not have?", "t-passport", "You can renew", []), "doc_ids": ["x"]},
    ]
    later.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "reader.json"

    result = training.run(
        out, data_dir=synthetic, split_path=synthetic / "split.json", report=True, later_turns=later, shops=None
    )

    assert result["model"]["split_sizes"]["later_turns"] == {"train": 1, "calib": 1, "test": 1}
    assert result["model"]["split_sizes"]["questions"] == {"train": 13, "calib": 4, "test": 4}
    assert result["test"]["first"]["questions"] == 3
    assert result["test"]["later"]["questions"] == 1
    first_only = training.run(
        tmp_path / "first.json", data_dir=synthetic, split_path=synthetic / "split.json", later_turns=None, shops=None
    )
    assert first_only["model"]["split_sizes"]["later_turns"] == {"train": 0, "calib": 0, "test": 0}


SHOP_ARTICLES = {
    "alpine": {
        "rentals.md": "# Rentals\n\n## Skis\n\nSki rental costs 25 euros per day. "
        "Helmets are free with every rental.\n\n## Late returns\n\nLate returns cost 10 euros per day.\n",
        "stores.md": "# Stores\n\n## Opening hours\n\n| Store | Hours |\n|---|---|\n"
        "| Innsbruck | 9-18 |\n| Graz | 10-17 |\n",
    },
    "books": {
        "delivery.md": "# Delivery\n\n## Costs\n\nDelivery is free over 20 pounds. Below that it costs 3 pounds.\n",
        "returns.md": "# Returns\n\n## Window\n\nYou can return a book within 30 days. E-books cannot be returned.\n",
    },
}
SHOP_QUESTIONS = {
    "alpine": [
        {"question": "how much are skis for a day", "expected_kind": "grounded",
         "expected_document": "rentals.md", "must_contain": ["25 euros per day"]},
        {"question": "when does the graz shop open?", "expected_kind": "grounded",
         "expected_document": "stores.md", "must_contain": ["10-17"]},
        {"question": "I want to sue you", "expected_kind": "escalated", "expected_document": None, "must_contain": []},
    ],
    "books": [
        {"question": "can I send back an e-book?", "expected_kind": "grounded",
         "expected_document": "returns.md", "must_contain": ["E-books cannot be returned"], "yes_no": "no"},
    ],
}  # fmt: skip


@pytest.fixture
def shops(tmp_path) -> Path:
    root = tmp_path / "shops"
    for shop, articles in SHOP_ARTICLES.items():
        (root / shop / "kb").mkdir(parents=True)
        for name, text in articles.items():
            (root / shop / "kb" / name).write_text(text)
        rows = SHOP_QUESTIONS[shop]
        (root / shop / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_training_help_centres_are_each_their_own_knowledge_base_with_gold_from_their_facts(synthetic, shops, tmp_path):
    docs, questions = training.load_shops(shops)
    assert {d["kb"] for d in docs} == {"shop:alpine", "shop:books"}
    assert [q["qid"] for q in questions] == ["shop:alpine:0", "shop:alpine:1", "shop:books:0"]  # grounded rows only

    corpus = training.prepare(docs, questions)
    gold = [[corpus.sentences[i]["text"] for i in g] for g in corpus.gold]
    assert gold[0] == ["Ski rental costs 25 euros per day."]
    assert gold[2] == ["E-books cannot be returned."]
    assert len(gold[1]) == 1 and "10-17" in gold[1][0]  # a table row, read with its header

    result = training.run(
        tmp_path / "reader.json", data_dir=synthetic, split_path=synthetic / "split.json", shops=shops
    )
    assert result["model"]["split_sizes"]["shops"] == {
        "help_centres": 2,
        "articles": 4,
        "questions": {"train": 3, "calib": 0, "test": 0},
        "without_gold_sentence": 0,
    }

    # A shop's question is asked of that shop's articles only, never of doc2dial's pages or another shop's.
    docs2, questions2 = training.load_doc2dial(synthetic, later_turns=None)
    merged = training.merge(training.prepare(docs2, questions2), corpus)
    split_of = {d["doc_id"]: "train" for d in merged.docs}
    sim = training.Simulator(merged, split_of, {d["doc_id"]: d["doc_id"] for d in merged.docs})
    turns = sim.turns("train", "full")
    shop_turns = [t for t in turns if merged.questions[t.qi]["qid"].startswith("shop:alpine")]
    assert len(shop_turns) == 2
    for t in shop_turns:
        assert {c["doc_id"].split(":")[1] for c in t.chunks} == {"alpine"}
        assert t.y.sum() >= 1  # the gold sentence is among the candidates, labelled
        assert t.repeat == training.SHOP_TURN_REPEAT  # weighed like several doc2dial turns by the ranker
    assert {t.repeat for t in turns if not merged.questions[t.qi]["qid"].startswith("shop:")} == {1}
