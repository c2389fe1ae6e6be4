"""python manage.py evaluate QUESTIONS.jsonl [--min-correct X] [--max-wrong N] [--json OUT]"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from escalation import evaluation as corrections
from support import evaluation


class Command(BaseCommand):
    help = "Score the answer pipeline on a question set (JSONL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("questions", nargs="?", type=Path)
        parser.add_argument("--min-correct", type=float, help="fail below this share of answerable questions answered")
        parser.add_argument("--min-escalated", type=float, help="fail below this share of unanswerable ones escalated")
        parser.add_argument(
            "--max-wrong", type=int, help="fail above this many wrong answers (answered but not correct)"
        )
        parser.add_argument("--json", type=Path, help="write every row's result here")
        parser.add_argument("--show", choices=["all", "failures", "none"], default="failures")
        parser.add_argument(
            "--regressions", action="store_true", help="replay accepted corrections' questions; fail if any changed"
        )

    def handle(self, *args, questions: Path | None, **options) -> None:
        if options["regressions"]:
            self._regressions()
            if questions is None:
                return
        if questions is None:
            raise CommandError("give a QUESTIONS.jsonl file (or --regressions)")
        if not questions.is_file():
            raise CommandError(f"no such file: {questions}")
        try:
            rows = evaluation.load_rows(questions)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        report = evaluation.evaluate(rows)
        summary = report.summary
        for result in report.results:
            failed = result.outcome in ("missed", "wrong", "incomplete", "other_kind", "error")
            if options["show"] == "all" or (options["show"] == "failures" and failed):
                self.stdout.write(
                    f"[{result.outcome:<10}] expected {result.row.expected_kind:<9} got {result.kind:<9} "
                    f"({result.reason}) {result.row.question[:90]}"
                    + (f" -- {result.verdict.why}" if result.verdict.why else "")
                )
        self.stdout.write(report.table())
        self.stdout.write("")
        width = max(len(k) for k in summary)
        for key, value in summary.items():
            self.stdout.write(f"{key:<{width}}  {value}")
        if options["json"]:
            options["json"].write_text(
                json.dumps(
                    {
                        "summary": summary,
                        "rows": [
                            {
                                "question": r.row.question,
                                "expected_kind": r.row.expected_kind,
                                "kind": r.kind,
                                "outcome": r.outcome,
                                "verdict": r.verdict.label,
                                "why": r.verdict.why,
                                "reply_words": r.verdict.words,
                                "reason": r.reason,
                                "text": r.text,
                                "cited": r.cited_documents,
                                "retrieved": r.retrieved_documents,
                            }
                            for r in report.results
                        ],
                    },
                    indent=1,
                    ensure_ascii=False,
                )
            )
        problems = []
        if options["min_correct"] is not None and (summary["answered_correctly"] or 0) < options["min_correct"]:
            problems.append(f"answered_correctly {summary['answered_correctly']} < {options['min_correct']}")
        if options["min_escalated"] is not None and (summary["unanswerable_escalated"] or 0) < options["min_escalated"]:
            problems.append(f"unanswerable_escalated {summary['unanswerable_escalated']} < {options['min_escalated']}")
        if options["max_wrong"] is not None and summary["wrong"] > options["max_wrong"]:
            problems.append(f"wrong {summary['wrong']} > {options['max_wrong']}")
        if problems:
            raise CommandError("; ".join(problems))

    def _regressions(self) -> None:
        results = corrections.regressions()
        failed = [r for r in results if not r.ok]
        for r in failed:
            self.stdout.write(
                f"REGRESSION correction #{r.correction_id}: {r.question!r} now gets {r.got_kind}: {r.got_text[:120]!r}"
            )
        self.stdout.write(f"regressions: {len(results) - len(failed)} of {len(results)} still answered as approved")
        if failed:
            raise CommandError(f"{len(failed)} accepted correction(s) no longer get their approved answer")
