"""Two versions of the code, one chat turn each, side by side: paired A/B through the HTTP API.

On this machine a run of bench/turn.py can be 30 % faster or slower than the
one a minute before, which is more than most changes are worth. Here both
versions serve at once (one gunicorn each, as bench/turn.py starts it) on the
same database, and every question goes to both, in alternating order, so a
slow minute slows both. Reported: each version's p50 per reply kind and the
median of the paired differences (B - A) over questions both answered with
the same kind.

    git worktree add /tmp/base <commit>
    .venv/bin/python bench/turn_ab.py /tmp/base .      [--rounds 3]

A tree needs the project's files only: this checkout's .venv and database
(var/bench-turn-pgdata, built as bench/turn.py says) serve both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EMBEDDED_PGDATA", str(ROOT / "var" / "bench-turn-pgdata"))

from bench import _common  # noqa: E402
from bench import turn as single  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path, help="source tree A (e.g. a worktree of the base commit)")
    parser.add_argument("b", type=Path, help="source tree B")
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    for name, tree in trees.items():
        if not (tree / "manage.py").is_file():
            sys.exit(f"{name}: {tree} holds no manage.py")
    db_url, _ = single.prepare_database(args.chunks)
    servers = {name: single.start_server(tree, db_url) for name, tree in trees.items()}
    bases = {name: base for name, (_, base) in servers.items()}
    by_kind: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    pairs: dict[str, list[float]] = {}
    approved: dict[str, list[float]] = {name: [] for name in trees}
    try:
        for base in bases.values():
            single.wait_until_up(base)
        questions = single.demo_questions()
        for question in questions[:20]:
            for base in bases.values():
                single.turn(base, "Warm up: " + question)
        for r in range(args.rounds):
            for i, question in enumerate(questions):
                text = single.OPENINGS[r % len(single.OPENINGS)] + question
                got = {}
                for name in ("A", "B") if (i + r) % 2 == 0 else ("B", "A"):
                    got[name] = single.turn(bases[name], text)
                    by_kind[name].setdefault(got[name][0], []).append(got[name][1])
                if got["A"][0] == got["B"][0]:
                    pairs.setdefault(got["A"][0], []).append(got["B"][1] - got["A"][1])
        for i in range(50):
            for name in ("A", "B") if i % 2 == 0 else ("B", "A"):
                approved[name].append(single.turn(bases[name], single.APPROVED_Q)[1])
    finally:
        for process, _ in servers.values():
            single.stop(process)
    _common.print_context("turn_ab.py", sys.argv[1:])
    print(f"A = {trees['A']}\nB = {trees['B']}")
    rows = [
        [
            kind,
            len(diffs),
            f"{statistics.median(by_kind['A'][kind]):.1f}",
            f"{statistics.median(by_kind['B'][kind]):.1f}",
            f"{statistics.median(diffs):+.2f}",
        ]
        for kind, diffs in sorted(pairs.items())
    ]
    rows.append(
        [
            "approved (repeated question)",
            len(approved["A"]),
            f"{statistics.median(approved['A']):.1f}",
            f"{statistics.median(approved['B']):.1f}",
            f"{statistics.median(b - a for a, b in zip(approved['A'], approved['B'], strict=True)):+.2f}",
        ]
    )
    print(_common.table(["reply kind", "pairs", "A p50 ms", "B p50 ms", "median B - A ms"], rows))
    _common.stop_server()


if __name__ == "__main__":
    main()
