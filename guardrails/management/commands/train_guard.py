"""Re-learn the guard's calibration and public-train patterns from the benchmark's train part."""

from __future__ import annotations

import numpy as np
from django.core.management.base import BaseCommand

from guardrails import services, training


class Command(BaseCommand):
    help = (
        "Fit the guard on the TRAIN part of the public injection benchmark (split rule in guardrails/dataset.py) "
        "plus the team's hard negatives; write guardrails/calibration.json and "
        "guardrails/seeds/public_train_patterns.jsonl. The test part is never read."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-probe", action="store_true", help="leave out the linear probe on the vector")
        parser.add_argument("--dry-run", action="store_true", help="report the out-of-fold figures, write nothing")
        parser.add_argument(
            "--load", action="store_true", help="also insert the new public-train patterns into the database"
        )

    def handle(self, *args, no_probe: bool, dry_run: bool, load: bool, **options) -> None:
        report = training.train(use_probe=not no_probe, log=self.stdout.write)
        cal = report.calibration
        scores, y, sources = report.oof_scores(), report.labels, np.array(report.datasets)
        self.stdout.write(
            "weights: " + ", ".join(f"{n}={w:+.3f}" for n, w in zip(cal["features"], cal["weights"], strict=True))
        )
        self.stdout.write(f"bias={cal['bias']:+.3f}  z_flag={cal['z_flag']:.3f}  z_block={cal['z_block']:.3f}")
        self.stdout.write("out-of-fold on the train rows (default thresholds):")
        for name, threshold in (("flag or block", cal["anchor_flag"]), ("block", cal["anchor_block"])):
            parts = [
                f"recall {np.mean(scores[y == 1] >= threshold):.3f}",
                f"FPR {np.mean(scores[y == 0] >= threshold):.4f}",
            ]
            for source in sorted(set(report.datasets)):
                mask = sources == source
                pos, neg = mask & (y == 1), mask & (y == 0)
                if pos.any():
                    parts.append(f"{source} recall {np.mean(scores[pos] >= threshold):.3f}")
                if neg.any():
                    parts.append(f"{source} FPR {np.mean(scores[neg] >= threshold):.4f}")
            self.stdout.write(f"  {name}: " + "; ".join(parts))
        if dry_run:
            self.stdout.write("dry run: nothing written")
            return
        training.save(report)
        self.stdout.write(
            f"wrote {training.PUBLIC_TRAIN_FILE.name} ({len(report.patterns)} patterns) and calibration.json"
        )
        if load:
            added = services.patterns_load(report.patterns)
            self.stdout.write(f"public-train patterns added to the database: {added}")
