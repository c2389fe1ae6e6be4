import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.chunking import MODEL_MAX_TOKENS, chunk_document
from knowledge.parsing import Block, ParsedDocument, parse_document
from knowledge.text import split_sentences
from tests.factories import RETURNS_MD


def words(texts):
    # A stand-in tokenizer for unit tests: one token per word.
    return [len(t.split()) for t in texts]


def test_sentences_split_on_full_stops_but_not_abbreviations_or_prices():
    text = "Prices start at €1,299.00 for frames, e.g. the City model. Returns take 5 days. Dr. Smith agrees! Really?"
    assert split_sentences(text) == [
        "Prices start at €1,299.00 for frames, e.g. the City model.",
        "Returns take 5 days.",
        "Dr. Smith agrees!",
        "Really?",
    ]


def test_chunks_keep_heading_path_and_never_cut_a_sentence():
    doc = parse_document("returns.md", RETURNS_MD.encode())
    chunks = chunk_document(doc, count_tokens=words, target_tokens=20, max_tokens=40)
    assert [c.heading_path for c in chunks][:2] == ["Returns and refunds", "Returns and refunds › E-bikes"]
    sentences = {s for b in doc.blocks for s in split_sentences(b.text)}
    for chunk in chunks:
        for start, end in chunk.sentence_spans:
            assert chunk.text[start:end] in sentences
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_long_sections_are_split_near_the_target_with_overlap():
    sentence = "The battery keeps its charge for about three months in storage."  # 11 words
    doc = ParsedDocument("Batteries", "markdown", [Block(("Batteries",), " ".join([sentence] * 40))])
    chunks = chunk_document(doc, count_tokens=words, target_tokens=100, max_tokens=130, overlap_sentences=1)
    assert len(chunks) >= 4
    assert all(c.token_count <= 130 for c in chunks)
    assert all(c.token_count >= 50 for c in chunks[:-1])
    # neighbours share one sentence
    for left, right in itertools.pairwise(chunks):
        last = left.text[left.sentence_spans[-1][0] : left.sentence_spans[-1][1]]
        assert right.text.startswith(last)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abc def.XYZ!?€1", min_size=1, max_size=400), min_size=1, max_size=12))
def test_chunking_any_text_stays_within_limits_and_loses_no_words(paragraphs):
    blocks = [Block(("T",), p.strip()) for p in paragraphs if p.strip()]
    if not blocks:
        return
    doc = ParsedDocument("T", "text", blocks)
    chunks = chunk_document(doc, count_tokens=words, target_tokens=30, max_tokens=45, overlap_sentences=1)
    limit = min(45, MODEL_MAX_TOKENS)
    assert all(c.token_count <= limit for c in chunks)
    seen = {w for c in chunks for w in c.text.split()}
    for block in blocks:
        assert set(block.text.split()) - {"-"} <= seen
