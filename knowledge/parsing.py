"""Turn one file's bytes into a title and an ordered list of text blocks.

Each block remembers the heading path it sits under, so chunking can keep
"Returns › E-bikes" with the text for display and ranking. Anything that is
not a readable document raises ParseError: a permanent failure, shown on the
job as it is, never retried.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath

SUPPORTED_SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    ".text": "text",
    ".pdf": "pdf",
}


class ParseError(Exception):
    """The file cannot become a document; the message is shown to curators."""


@dataclass(frozen=True)
class Block:
    heading_path: tuple[str, ...]
    text: str
    is_item: bool = False


@dataclass
class ParsedDocument:
    title: str
    source_format: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The normalised full text kept on the version (what diff and audit read)."""
        lines: list[str] = []
        current: tuple[str, ...] | None = None
        for block in self.blocks:
            if block.heading_path != current:
                current = block.heading_path
                if lines:
                    lines.append("")
                lines.append("#" * max(1, len(current)) + " " + (current[-1] if current else self.title))
            lines.append(("- " if block.is_item else "") + block.text)
        return "\n".join(lines)


def format_for(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    try:
        return SUPPORTED_SUFFIXES[suffix]
    except KeyError:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise ParseError(f"unsupported file type {suffix or '(none)'!r}: use one of {allowed}, or a .zip") from None


def parse_document(name: str, data: bytes) -> ParsedDocument:
    fmt = format_for(name)
    if not data.strip():
        raise ParseError("the file is empty")
    stem = PurePosixPath(name).stem.replace("-", " ").replace("_", " ").strip().capitalize() or name
    if fmt == "pdf":
        doc = _parse_pdf(data, stem)
    elif fmt == "html":
        doc = _parse_html(data, stem)
    else:
        text = decode_text(data)
        doc = _parse_markdown(text, stem) if fmt == "markdown" else _parse_plain(text, stem)
    if not doc.blocks:
        raise ParseError("no text found in the file")
    return doc


_WS = re.compile(r"[ \t\u00a0]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")


def clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    return _WS.sub(" ", text).strip()


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"the file is not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at position {exc.start}); "
            "save it as UTF-8 and upload it again"
        ) from None


# --- Markdown -------------------------------------------------------------------------


def _parse_markdown(text: str, fallback_title: str) -> ParsedDocument:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    title = ""
    headings: list[tuple[int, str]] = []
    blocks: list[Block] = []
    pending_heading: int | None = None
    in_item = 0
    in_cell = False
    in_head = False
    row: list[str] = []
    header: list[str] = []
    for tok in tokens:
        if tok.type == "heading_open":
            pending_heading = int(tok.tag[1])
        elif tok.type == "inline" and pending_heading is not None:
            heading = clean(_inline_text(tok))
            if pending_heading == 1 and not title:
                title = heading
            else:
                headings = [h for h in headings if h[0] < pending_heading] + [(pending_heading, heading)]
            pending_heading = None
        elif tok.type == "list_item_open":
            in_item += 1
        elif tok.type == "list_item_close":
            in_item -= 1
        elif tok.type == "thead_open":
            in_head, header = True, []
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "table_close":
            header = []
        elif tok.type == "tr_open":
            row = []
        elif tok.type in ("td_open", "th_open"):
            in_cell = True
        elif tok.type in ("td_close", "th_close"):
            in_cell = False
        elif tok.type == "inline" and in_cell:
            row.append(clean(_inline_text(tok)))
        elif tok.type == "tr_close":
            if in_head:
                header = row
            elif any(row):
                blocks.append(Block(_path(title, headings), table_row(header, row), is_item=True))
        elif tok.type == "inline":
            content = clean(_inline_text(tok))
            if content:
                blocks.append(Block(_path(title, headings), content, is_item=in_item > 0))
        elif tok.type in ("fence", "code_block"):
            content = clean(tok.content)
            if content:
                blocks.append(Block(_path(title, headings), content))
    title = title or fallback_title
    return ParsedDocument(title=title, source_format="markdown", blocks=_retitle(blocks, title))


def table_row(header: list[str], cells: list[str]) -> str:
    """A table row that can be quoted alone: each cell with its column's name ("Tier: Silver |
    Return window: 30 days"), so a row never needs the header line above it to make sense."""
    if len(header) == len(cells):
        return " | ".join(
            f"{name}: {cell}" if name and cell else cell for name, cell in zip(header, cells, strict=True) if cell
        )
    return " | ".join(c for c in cells if c)


def _inline_text(tok) -> str:
    parts: list[str] = []
    for child in tok.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts)


def _path(title: str, headings: list[tuple[int, str]]) -> tuple[str, ...]:
    return (title, *[h for _, h in headings]) if title else tuple(h for _, h in headings)


def _retitle(blocks: list[Block], title: str) -> list[Block]:
    # Blocks before the first heading sit directly under the title.
    return [b if b.heading_path else Block((title,), b.text, b.is_item) for b in blocks]


# --- HTML --------------------------------------------------------------------------------

_DROP_TAGS = ("script", "style", "nav", "header", "footer", "aside", "noscript", "form", "iframe", "svg", "template")
_BLOCK_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "tr", "pre", "blockquote", "dt", "dd", "figcaption")
_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_-]+)", re.IGNORECASE)


def _parse_html(data: bytes, fallback_title: str) -> ParsedDocument:
    from bs4 import BeautifulSoup

    declared = _CHARSET.search(data[:4096])
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        try:
            text = data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            raise ParseError(
                f"the page declares charset {declared.group(1).decode()!r} but does not decode as it"
            ) from None
    else:
        text = decode_text(data)
    soup = BeautifulSoup(text, "lxml")
    page_title = clean(soup.title.get_text(" ")) if soup.title else ""
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(attrs={"role": "navigation"}):
        tag.decompose()
    body = soup.body or soup
    title = ""
    headings: list[tuple[int, str]] = []
    blocks: list[Block] = []
    headers: dict[int, list[str]] = {}  # a table's column names (its first row of <th>), read once
    for el in body.find_all(_BLOCK_TAGS):
        if el.find_parent(_BLOCK_TAGS) is not None and el.name not in ("li", "tr"):
            continue  # its text is already part of the enclosing block
        name = el.name
        if name[0] == "h" and name[1:].isdigit():
            level = int(name[1:])
            heading = clean(el.get_text(" "))
            if not heading:
                continue
            if level == 1 and not title:
                title = heading
            else:
                headings = [h for h in headings if h[0] < level] + [(level, heading)]
            continue
        if name == "li":
            content = clean(
                " ".join(s for s in el.find_all(string=True) if s.find_parent(["ul", "ol"]) in (el.parent,))
            )
        elif name == "tr":
            cells = el.find_all(["td", "th"])
            if cells and all(c.name == "th" for c in cells):
                continue  # a header row: its names go into every row below it
            table = el.find_parent("table")
            if table is not None and id(table) not in headers:
                first = table.find("tr")
                headers[id(table)] = [clean(c.get_text(" ")) for c in first.find_all("th")] if first else []
            names = headers.get(id(table), []) if table is not None else []
            content = table_row(names, [clean(c.get_text(" ")) for c in cells])
        else:
            content = clean(el.get_text(" "))
        if content:
            blocks.append(Block(_path(title, headings), content, is_item=name in ("li", "tr", "dd", "dt")))
    if not blocks:
        # Pages built from bare <div>s: fall back to their text lines.
        for line in body.get_text("\n").splitlines():
            if clean(line):
                blocks.append(Block(_path(title, headings), clean(line)))
    title = title or page_title or fallback_title
    return ParsedDocument(title=title, source_format="html", blocks=_retitle(blocks, title))


# --- Plain text -------------------------------------------------------------------------

_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+")


# A line ending in one of these is a sentence broken by a hard wrap, not a heading.
_CONTINUES = frozenset(
    "a an the to of in on at by for with within without from into onto than as and or but nor if "
    "that which who whose when where is are was were be been can could will would may might must "
    "should your our their my his her its this these those per via".split()
)


def _heading_like(line: str) -> bool:
    line = line.strip()
    words = line.split()
    return (
        0 < len(line) <= 80
        and len(words) <= 12
        and not line.endswith((".", "?", "!", ":", ";", ","))
        and words[-1].lower() not in _CONTINUES
    )


def _starts_sentence(line: str) -> bool:
    # Capitalised or a list item; a digit is not enough ("... within\n14 days").
    first = line.lstrip()[:1]
    return first.isupper() or bool(_ITEM.match(line))


def _hard_wrapped(lines: list[str]) -> bool:
    """Three or more lines of about the same width: text wrapped at a column."""
    if len(lines) < 3:
        return False
    widths = [len(line.rstrip()) for line in lines[:-1]]
    return max(widths) <= 100 and min(widths) >= 0.6 * max(widths)


def _parse_plain(text: str, fallback_title: str) -> ParsedDocument:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    if not paragraphs:
        return ParsedDocument(title=fallback_title, source_format="text")
    first_lines = paragraphs[0].strip().splitlines()
    titled = len(first_lines[0]) <= 150  # a first line that long is text, not a title
    title = clean(first_lines[0]) if titled else fallback_title
    rest = "\n".join(first_lines[1:]) if titled else paragraphs[0]
    paragraphs = ([rest] if rest.strip() else []) + paragraphs[1:]
    headings: list[tuple[int, str]] = []
    blocks: list[Block] = []
    for para in paragraphs:
        lines = [ln for ln in para.splitlines() if ln.strip()]
        # A lone short line without a full stop, followed by text, reads as a heading.
        if len(lines) == 1 and _heading_like(lines[0]):
            headings = [(2, clean(lines[0]))]
            continue
        # So does the first line of a paragraph when the next starts a new sentence
        # (exports often put a section's heading straight above its text); a
        # hard-wrapped sentence goes on in lower case instead.
        if len(lines) > 1 and _heading_like(lines[0]) and _starts_sentence(lines[1]) and not _hard_wrapped(lines):
            headings = [(2, clean(lines[0]))]
            lines = lines[1:]
        if all(_ITEM.match(ln) for ln in lines):
            for ln in lines:
                blocks.append(Block(_path(title, headings), clean(_ITEM.sub("", ln)), is_item=True))
        else:
            blocks.append(Block(_path(title, headings), clean(" ".join(lines))))
    return ParsedDocument(title=title, source_format="text", blocks=blocks)


# --- PDF -----------------------------------------------------------------------------------


def _parse_pdf(data: bytes, fallback_title: str) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password only.
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise ParseError("the PDF is encrypted with a password; upload an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, Exception) as exc:
        raise ParseError(f"the PDF could not be read (corrupt or not a PDF): {exc}") from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise ParseError("the PDF has no text layer (a scan?); upload a PDF with selectable text")
    doc = _parse_plain(text, fallback_title)
    doc.source_format = "pdf"
    if clean(meta_title):
        doc.title = clean(meta_title)
    return doc
