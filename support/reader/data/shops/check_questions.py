"""Check every support/reader/data/shops/<shop>/questions.jsonl against its kb/.

Run: python support/reader/data/shops/check_questions.py

Runs the same checks as bench/shops/check_questions.py (JSON parses; fields valid;
every expected_document exists; every must_contain string occurs verbatim, whitespace
collapsed, in that document; article links resolve; every kb article has 250-700
words; counts per kind) on the shops in this folder instead of bench/shops/, by
executing that script with this file as its location. Exit 1 on any error."""

from pathlib import Path

HERE = Path(__file__).resolve()
CHECKER = HERE.parents[4] / "bench" / "shops" / "check_questions.py"

# The code executed is the repository's own checker, not input.
exec(  # noqa: S102
    compile(CHECKER.read_text(encoding="utf-8"), str(CHECKER), "exec"), {"__name__": "__main__", "__file__": str(HERE)}
)
