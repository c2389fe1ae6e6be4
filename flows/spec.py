"""What a flow is, as data: parsed from a plain dict (YAML, the curation form) and checked.

A flow that passes `parse` can run: every step is known, every template names a slot,
a call's saved fields or a flow setting, every branch target exists. Errors say where
("flow 'order-status', step 3: ...") so a curator can fix the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SLOT_TYPES = ("order_number", "email", "date", "number", "choice", "text")
STEP_KINDS = ("collect", "say", "call", "branch", "handoff", "end")
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
SLOT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# {slot} or {saved.field} in a template
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)?)\}")
MAX_STEPS_CEILING = 200


class FlowSpecError(ValueError):
    """A flow that cannot run, with the place and the reason."""


@dataclass(frozen=True)
class Step:
    kind: str
    id: str = ""
    slot: str = ""  # collect: the slot; branch: the slot compared
    type: str = ""
    prompt: str = ""  # collect: the question
    reprompt: str = ""  # collect: said after an answer that does not fit
    pattern: str = ""  # order_number: a regular expression the value must match
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()  # choice: (value, synonyms)
    text: str = ""  # say / handoff / end: a template
    url: str = ""  # call
    save_as: str = ""  # call: the prefix its response fields are saved under
    cases: tuple[tuple[str, str], ...] = ()  # branch: (value, step id)
    default: str = ""  # branch: step id when no case matches ("" = the next step)


@dataclass(frozen=True)
class FlowSpec:
    name: str
    objective: str
    triggers: tuple[str, ...]
    steps: tuple[Step, ...]
    title: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    max_steps: int = 0  # 0: FLOW_MAX_STEPS

    def index_of(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)

    def collects(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "collect"]

    def as_dict(self) -> dict[str, Any]:
        """The flow as it is written in YAML (parse(as_dict()) gives the same flow)."""
        out: dict[str, Any] = {"name": self.name}
        if self.title:
            out["title"] = self.title
        out["objective"] = self.objective
        out["triggers"] = list(self.triggers)
        if self.settings:
            out["settings"] = dict(self.settings)
        if self.max_steps:
            out["max_steps"] = self.max_steps
        out["steps"] = [_step_dict(s) for s in self.steps]
        return out


def _step_dict(s: Step) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if s.id:
        d["id"] = s.id
    if s.kind == "collect":
        d["collect"] = s.slot
        d["type"] = s.type
        d["prompt"] = s.prompt
        if s.reprompt:
            d["reprompt"] = s.reprompt
        if s.pattern:
            d["pattern"] = s.pattern
        if s.choices:
            d["choices"] = {value: list(words) for value, words in s.choices}
    elif s.kind == "say":
        d["say"] = s.text
    elif s.kind == "call":
        d["call"] = s.save_as
        d["url"] = s.url
    elif s.kind == "branch":
        d["branch"] = s.slot
        d["cases"] = dict(s.cases)
        if s.default:
            d["default"] = s.default
    else:  # handoff, end
        d[s.kind] = s.text
    return d


def _text(value: Any, where: str, what: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool) or (required and not str(value).strip()):
        raise FlowSpecError(f"{where}: {what} must be a non-empty text")
    return str(value).strip()


def _parse_step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict):
        raise FlowSpecError(f"{where}: a step must be a mapping such as 'say: Hello', not {type(raw).__name__}")
    kinds = [k for k in STEP_KINDS if k in raw]
    if len(kinds) != 1:
        raise FlowSpecError(f"{where}: a step needs exactly one of {', '.join(STEP_KINDS)} (found {kinds or 'none'})")
    kind = kinds[0]
    allowed = {
        "collect": {"collect", "type", "prompt", "reprompt", "pattern", "choices", "id"},
        "say": {"say", "id"},
        "call": {"call", "url", "id"},
        "branch": {"branch", "cases", "default", "id"},
        "handoff": {"handoff", "id"},
        "end": {"end", "id"},
    }[kind]
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise FlowSpecError(f"{where}: unknown key(s) {', '.join(unknown)} for a {kind} step")
    step_id = _text(raw.get("id"), where, "id", required=False)
    if step_id and not SLOT_NAME.match(step_id.replace("-", "_")):
        raise FlowSpecError(f"{where}: id {step_id!r} must be lower-case letters, digits, - and _")
    if kind == "collect":
        slot = _text(raw["collect"], where, "collect (the slot's name)")
        if not SLOT_NAME.match(slot):
            raise FlowSpecError(f"{where}: slot name {slot!r} must be lower-case letters, digits and _")
        slot_type = _text(raw.get("type", "text"), where, "type")
        if slot_type not in SLOT_TYPES:
            raise FlowSpecError(f"{where}: type {slot_type!r} is not one of {', '.join(SLOT_TYPES)}")
        pattern = _text(raw.get("pattern"), where, "pattern", required=False)
        if slot_type == "order_number":
            if not pattern:
                raise FlowSpecError(f"{where}: an order_number slot needs a pattern (e.g. 'A-?[0-9]{{5}}')")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise FlowSpecError(f"{where}: pattern {pattern!r} is not a regular expression: {exc}") from None
        choices: tuple[tuple[str, tuple[str, ...]], ...] = ()
        if slot_type == "choice":
            raw_choices = raw.get("choices")
            if isinstance(raw_choices, list):
                raw_choices = {str(c): [] for c in raw_choices}
            if not isinstance(raw_choices, dict) or not raw_choices:
                raise FlowSpecError(f"{where}: a choice slot needs choices (a list, or value: [synonyms])")
            choices = tuple(
                (str(value).strip().lower(), tuple(str(w).strip().lower() for w in (words or [])))
                for value, words in raw_choices.items()
            )
        return Step(
            kind,
            step_id,
            slot=slot,
            type=slot_type,
            prompt=_text(raw.get("prompt"), where, "prompt"),
            reprompt=_text(raw.get("reprompt"), where, "reprompt", required=False),
            pattern=pattern,
            choices=choices,
        )
    if kind == "call":
        save_as = _text(raw["call"], where, "call (the name its response is saved under)")
        if not SLOT_NAME.match(save_as):
            raise FlowSpecError(f"{where}: call name {save_as!r} must be lower-case letters, digits and _")
        url = _text(raw.get("url"), where, "url")
        if not (url.startswith("/") or url.startswith("http://") or url.startswith("https://")):
            raise FlowSpecError(f"{where}: url {url!r} must be a path (/...) or an http(s) address")
        return Step(kind, step_id, url=url, save_as=save_as)
    if kind == "branch":
        slot = _text(raw["branch"], where, "branch (the slot to compare)")
        cases = raw.get("cases")
        if not isinstance(cases, dict) or not cases:
            raise FlowSpecError(f"{where}: a branch needs cases (value: step id)")
        return Step(
            kind,
            step_id,
            slot=slot,
            cases=tuple((str(k).strip().lower(), _text(v, where, f"case {k!r}")) for k, v in cases.items()),
            default=_text(raw.get("default"), where, "default", required=False),
        )
    text = _text(raw[kind], where, kind, required=kind == "say")
    return Step(kind, step_id, text=text)


def parse(raw: Any) -> FlowSpec:
    """One flow from its dict, checked; FlowSpecError says what is wrong and where."""
    if not isinstance(raw, dict):
        raise FlowSpecError(
            f"a flow must be a mapping with name, objective, triggers and steps, not {type(raw).__name__}"
        )
    name = _text(raw.get("name"), "flow", "name")
    where = f"flow {name!r}"
    if not NAME.match(name):
        raise FlowSpecError(f"{where}: name must be lower-case letters, digits, - and _ (at most 64)")
    unknown = sorted(set(raw) - {"name", "title", "objective", "triggers", "settings", "max_steps", "steps"})
    if unknown:
        raise FlowSpecError(f"{where}: unknown key(s) {', '.join(unknown)}")
    objective = _text(raw.get("objective"), where, "objective")
    triggers = raw.get("triggers")
    if not isinstance(triggers, list) or not [t for t in triggers if isinstance(t, str) and t.strip()]:
        raise FlowSpecError(f"{where}: triggers must be a list of example messages (at least one)")
    if any(not isinstance(t, str) for t in triggers):
        raise FlowSpecError(f"{where}: every trigger example must be a text")
    settings_ = raw.get("settings") or {}
    if not isinstance(settings_, dict) or any(
        not isinstance(v, str | int | float | bool) or not SLOT_NAME.match(str(k)) for k, v in settings_.items()
    ):
        raise FlowSpecError(f"{where}: settings must map lower-case names to plain values")
    max_steps = raw.get("max_steps", 0)
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or not 0 <= max_steps <= MAX_STEPS_CEILING:
        raise FlowSpecError(f"{where}: max_steps must be a whole number from 1 to {MAX_STEPS_CEILING}")
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise FlowSpecError(f"{where}: steps must be a non-empty list")
    steps = tuple(_parse_step(s, f"{where}, step {i + 1}") for i, s in enumerate(raw_steps))
    spec = FlowSpec(
        name=name,
        title=_text(raw.get("title"), where, "title", required=False),
        objective=objective,
        triggers=tuple(dict.fromkeys(t.strip() for t in triggers if t.strip())),
        steps=steps,
        settings=dict(settings_),
        max_steps=max_steps,
    )
    _check_references(spec, where)
    return spec


def _check_references(spec: FlowSpec, where: str) -> None:
    ids = [s.id for s in spec.steps if s.id]
    if len(ids) != len(set(ids)):
        raise FlowSpecError(f"{where}: step ids must be unique")
    known = {s.slot for s in spec.collects()} | set(spec.settings)
    saved = {s.save_as for s in spec.steps if s.kind == "call"}
    if known & saved:
        raise FlowSpecError(f"{where}: {sorted(known & saved)[0]!r} is both a slot and a call's name")
    for i, step in enumerate(spec.steps):
        here = f"{where}, step {i + 1}"
        for text in (step.prompt, step.reprompt, step.text):
            for name in PLACEHOLDER.findall(text):
                head = name.split(".")[0]
                if name in known or ("." in name and head in saved):
                    continue
                raise FlowSpecError(f"{here}: {{{name}}} is not a slot, a setting or a call's field")
        if step.kind == "branch":
            head = step.slot.split(".")[0]
            if step.slot not in known and head not in saved:
                raise FlowSpecError(f"{here}: branch on {step.slot!r}, which is not a slot or a call's field")
            for target in [t for _, t in step.cases] + ([step.default] if step.default else []):
                if target not in ids:
                    raise FlowSpecError(f"{here}: branch target {target!r} is not a step id")
