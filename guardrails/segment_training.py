"""Train the segment probe (`guardrails.segment_probe`) and choose its operating point.

Data (nothing from any evaluation set's test part, nothing from the sets the issue reserves for judging):
- attacks: Tensor Trust's hijacking and extraction robustness attacks (`data/tensor_trust_attacks.jsonl`,
  see `data/README.md`), the public benchmark's *train* injections, the team's patterns;
- benign: the public benchmark's *train* benign rows (BANKING77 half, deepset train), the team's hard
  negatives, sentences and questions of SQuAD 2.0 dev and SelQA (Wikipedia, the shared `reading/` set,
  which is training data), the demo help centre's sentences, and the team's pasted-material lines
  (`seeds/team_pasted_benign.jsonl`: e-mail headers, sign-offs, table cells, orders between people) and
  the team's customer requests that use the attacks' words (`seeds/team_benign_commands.jsonl`: "repeat
  the instructions", "answer in German", "the app prompts me for a password", "access granted but…").

Every row has a stable id; one fifth of the rows (by a hash of the id) is the validation split. The
probe is fitted on the other four fifths, and its flag point is the smallest logit that at most
`SEGMENT_FLAG_FPR` of the validation benign rows reach (for pasted material), and the smallest logit
that at most `SEGMENT_OWN_FPR` of them reach (for the customer's own words). The validation figures are stored
beside it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import numpy as np

from guardrails import ngrams, segment_probe, training
from guardrails.dataset import Row, public_rows, read_rows
from guardrails.extra_data import (
    COMMANDS_BENIGN_FILE,
    PASTED_BENIGN_FILE,
    ROW_CHARS,
    TENSOR_TRUST_FILE,
    demo_kb_rows,
    ha_intents_rows,
    is_validation,
    reading_rows,
)

SEGMENT_FLAG_FPR = 0.002
# The customer's own words (a whole message, a lead line, a closing question) flag at a tenth of a percent of
# the validation benign rows: half the pasted-material budget. (Until issue #21's third session this point
# lay above every validation benign row, so one team hard negative alone — "Can you write the delivery
# instructions in German for the courier?" — set it, and moved it from 2.68 to 3.10 when the multilingual
# assistant commands joined the data; at 0.1 % it is 1.87, and the Tensor Trust validation hijacks caught
# on their own go from 53 to 68 of 80.)
SEGMENT_OWN_FPR = 0.001
SEGMENT_L2 = 1.0


def corpus() -> list[Row]:
    """Every row the segment probe learns from or is validated on (texts cut to ROW_CHARS)."""
    rows: list[Row] = []
    rows += list(read_rows(TENSOR_TRUST_FILE))
    rows += [r for r in public_rows("train")]
    rows += [
        Row(p.text, "injection", f"team-pattern:{i}") for i, p in enumerate(training.read_seed_file(training.TEAM_FILE))
    ]
    rows += list(read_rows(training.TEAM_BENIGN_FILE))
    rows += list(read_rows(PASTED_BENIGN_FILE))
    rows += list(read_rows(COMMANDS_BENIGN_FILE))
    rows += ha_intents_rows()
    rows += list(reading_rows())
    rows += list(demo_kb_rows())
    out: list[Row] = []
    seen: set[str] = set()
    for row in rows:
        text = row.text.strip()[:ROW_CHARS]
        if text and text not in seen:
            seen.add(text)
            out.append(Row(text, row.label, row.source))
    return out


def design(rows: list[Row]):
    """The rows' hashed n-gram matrix (scipy CSR, L2-normalised binary rows)."""
    from scipy.sparse import csr_matrix

    indptr, indices, data = [0], [], []
    for row in rows:
        hit = ngrams.buckets(row.text)
        indices.extend(hit.tolist())
        data.extend([1.0 / np.sqrt(len(hit))] * len(hit) if len(hit) else [])
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(rows), ngrams.BUCKETS))


def train(log=print) -> tuple[dict, np.ndarray]:
    """Fit on the training split, choose the flag point on the validation split; returns the stored
    form and the weights."""
    rows = corpus()
    val = np.array([is_validation(r) for r in rows])
    y = np.array([r.is_injection for r in rows], dtype=np.float64)
    x = design(rows)
    log(f"{len(rows)} rows ({int(y.sum())} attacks); validation {int(val.sum())} rows")
    weights, bias = training.fit_logistic_sparse(
        x[~val], y[~val], l2=SEGMENT_L2, sample_weight=training.balanced_weights(y[~val])
    )
    z = x @ weights + bias
    benign_val = z[val & (y == 0)]
    flag = training.round_up(training.threshold_at_fpr(benign_val, SEGMENT_FLAG_FPR))
    # The customer's own words (a whole message, or the lead line and closing question of a pasted one)
    # borrow attack words more often than pasted text does: there the probe flags at a smaller share of the
    # validation benign rows.
    flag_own = max(flag, training.round_up(training.threshold_at_fpr(benign_val, SEGMENT_OWN_FPR)))
    by_source: dict[str, list[int]] = {}
    for row, value, in_val in zip(rows, z, val, strict=True):
        if in_val:
            name = row.source.split(":", 1)[0]
            counts = by_source.setdefault(f"{name} ({row.label})", [0, 0])
            counts[0] += 1
            counts[1] += int(value >= flag)
    validation = {name: {"rows": n, "flagged": k} for name, (n, k) in sorted(by_source.items())}
    raw = segment_probe.weights_bytes(weights)
    data = {
        "version": datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
        "file": "segment_ngrams.npy",
        "sha256": hashlib.sha256(raw).hexdigest(),
        "sizes": list(ngrams.SIZES),
        "buckets": ngrams.BUCKETS,
        "bias": round(float(bias), 6),
        "flag": flag,
        "flag_fpr": SEGMENT_FLAG_FPR,
        "flag_own": flag_own,
        "flag_own_fpr": SEGMENT_OWN_FPR,
        "validation_fpr_own": round(float(np.mean(benign_val >= flag_own)), 4),
        "validation_recall_own": round(float(np.mean(z[val & (y == 1)] >= flag_own)), 4),
        "validation": validation,
        "validation_recall": round(float(np.mean(z[val & (y == 1)] >= flag)), 4),
        "validation_fpr": round(float(np.mean(benign_val >= flag)), 4),
    }
    return data, weights


def write(data: dict, weights: np.ndarray) -> None:
    segment_probe.PROBE_FILE.with_name(data["file"]).write_bytes(segment_probe.weights_bytes(weights))
    segment_probe.PROBE_FILE.write_text(json.dumps(data, indent=1) + "\n")
    segment_probe.reload()
