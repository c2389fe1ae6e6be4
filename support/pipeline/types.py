"""What flows between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.choices import Priority


@dataclass
class Passage:
    """A chunk handed to the composer under a number; `sentences` are the kept ones."""

    n: int
    chunk_id: int
    version_id: int
    document_id: int
    document_title: str
    version_number: int
    heading_path: str
    text: str
    cosine: float
    sentences: list[str] = field(default_factory=list)
    items: list[bool] = field(default_factory=list)
    version_title: str = ""

    @property
    def quote(self) -> str:
        return " ".join(self.sentences)


@dataclass
class Reply:
    kind: str
    text: str
    reason: str = ""
    passages: list[Passage] = field(default_factory=list)
    approved_version_id: int | None = None
    composer: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    attempts: int = 0
    escalate: bool = False
    priority: int = Priority.NORMAL
    detail: str = ""
    close_conversation: str = ""  # a close reason when the turn ends the conversation


@dataclass
class Turn:
    """One customer message on its way through the pipeline."""

    text: str
    vector: np.ndarray | None = None
    stage_ms: dict[str, float] = field(default_factory=dict)
    signals: dict = field(default_factory=dict)
    budget_exhausted: bool = False
    guard: object | None = None  # guardrails.scoring.GuardResult, recorded as a SecurityEvent
    deadline: float | None = None  # time.monotonic() by which every outside call must be over
    flow: object | None = None  # support.pipeline.flow.FlowUpdate: what record writes for the flow
    flow_left: object | None = None  # a FlowUpdate for the run the customer left for another flow
    flow_repeat: str = ""  # a question asked mid-flow: the flow's pending question, asked after the answer
