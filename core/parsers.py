"""The API's JSON parser: DRF's, with a nesting cap.

Python's JSON decoder recurses once per `[` or `{`: a body of 30,000 brackets
raises RecursionError, which DRF does not catch (a 500). Nothing the API takes
is nested more than a few levels, so a deeper body is refused with a 400 before
it is decoded (`API_JSON_MAX_DEPTH`).

The body's charset comes from the client's Content-Type, and Python's codec registry also holds
transforms (`bz2`, `zlib`, `rot13`): a 113-byte body "in charset bz2" decompressed to 50 MB. Only
text encodings are read; anything else is a 400."""

from __future__ import annotations

import codecs
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json


def json_depth(text: str) -> int:
    """The deepest nesting of `[`/`{` in a JSON text, strings skipped; a loop, no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "[" or char == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "]" or char == "}":
            depth -= 1
    return deepest


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.API_JSON_MAX_DEPTH
        try:
            codec = codecs.lookup(encoding)
        except LookupError:
            raise ParseError(f"JSON parse error - unknown charset {encoding!r}") from None
        if not codec._is_text_encoding:  # bz2, zlib, base64, rot13 ...: transforms, not charsets
            raise ParseError(f"JSON parse error - {encoding!r} is not a text encoding") from None
        try:
            text = codec.streamreader(stream).read()
            if json_depth(text) > limit:
                raise ParseError(f"JSON parse error - nested deeper than {limit} levels")
            return json.loads(text)  # NaN and Infinity refused, as DRF's strict parser does
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise ParseError(f"JSON parse error - {exc}") from None
