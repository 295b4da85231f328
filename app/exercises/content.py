"""Exercise content: pydantic models, a cached YAML loader and the grader (right, wrong or unreadable).

The web process imports this module, so it must never import torch.
"""

import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .answers import MAX_CHARS, parse_number, parse_shape

CONTENT_DIR = Path(__file__).parent / "sections"
SECTION_IDS = ("linreg", "softmax", "mlp")
CHOICE_KINDS = ("choice", "text-choice")

Demo = Literal[
    "mm_vs_mul",
    "manual_seed",
    "grad_accumulation",
    "view_shapes",
    "squared_loss",
    "gather_accuracy",
    "softmax_shift",
    "activations",
    "backward_weights",
    "data_iter",
]
DEMOS: tuple[str, ...] = get_args(Demo)
Slug = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)


class Text(BaseModel):
    """One text in both languages; `code` between backticks is shown as code, \\( math \\) by KaTeX."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    @model_validator(mode="after")
    def not_blank(self):
        if not self.zh.strip() or not self.en.strip():
            raise ValueError("zh and en must both hold text")
        if self.zh.count("`") % 2 or self.en.count("`") % 2:
            raise ValueError("code is marked with a pair of backticks; one is missing")
        return self


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_-]+$", max_length=40)
    text: Text


class RacePreset(BaseModel):
    """A ready-made race on the preset: the same setup with one control taking 2 to 4 values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vary: str
    values: list[float | int | str] = Field(min_length=2, max_length=4)


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Slug
    kind: Literal["choice", "number", "shape", "text-choice"]
    question: Text
    choices: list[Choice] = Field(default_factory=list)
    answer: Any
    tolerance: float = Field(0.0, ge=0)
    explanation: Text
    evidence: str | None = None
    preset: dict[str, Any] | None = None
    race: RacePreset | None = None
    demo: Demo | None = None

    @model_validator(mode="after")
    def answer_fits_kind(self):
        if self.kind in CHOICE_KINDS:
            ids = [choice.id for choice in self.choices]
            if len(ids) < 2 or len(set(ids)) != len(ids):
                raise ValueError(f"{self.id}: a choice item needs two or more choices with distinct ids")
            if not isinstance(self.answer, str) or self.answer not in ids:
                raise ValueError(f"{self.id}: the answer must be one of the choice ids {ids}")
            return self
        if self.choices:
            raise ValueError(f"{self.id}: only choice items have choices")
        if self.kind == "number":
            if isinstance(self.answer, bool) or not isinstance(self.answer, int | float):
                raise ValueError(f"{self.id}: a number item needs a numeric answer")
            if not math.isfinite(self.answer):
                raise ValueError(f"{self.id}: the answer must be finite")
            object.__setattr__(self, "answer", float(self.answer))
        else:  # shape
            if (
                not isinstance(self.answer, list)
                or not self.answer
                or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in self.answer)
            ):
                raise ValueError(f"{self.id}: a shape answer is a list of positive integers, e.g. [4, 3]")
        return self


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Literal["linreg", "softmax", "mlp"]
    title: Text
    intro: Text
    items: list[Item] = Field(min_length=1)


@lru_cache(maxsize=1)
def _load() -> tuple[Section, ...]:
    sections = []
    for section_id in SECTION_IDS:
        with open(CONTENT_DIR / f"{section_id}.yaml", encoding="utf-8") as handle:
            section = Section.model_validate(yaml.safe_load(handle))
        if section.id != section_id:
            raise ValueError(f"{section_id}.yaml declares section {section.id!r}")
        sections.append(section)
    seen: set[str] = set()
    for section in sections:
        for item in section.items:
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} is used twice")
            seen.add(item.id)
    return tuple(sections)


def load_sections() -> list[Section]:
    """The three sections, in course order, validated once and cached."""
    return list(_load())


def find_item(item_id: str) -> tuple[Section, Item]:
    """The section and item with this id; KeyError if there is none."""
    for section in _load():
        for item in section.items:
            if item.id == item_id:
                return section, item
    raise KeyError(item_id)


Verdict = Literal["right", "wrong", "unreadable"]


def answer_form(item: Item) -> str | None:
    """Which kind of written answer the item expects ("number", "count", "shape"); None for choices."""
    if item.kind in CHOICE_KINDS:
        return None
    if item.kind == "number":
        return "count" if float(item.answer).is_integer() else "number"
    return "shape"


def grade(item: Item, submitted: str) -> Verdict:
    """right, wrong, or unreadable: an answer in none of the forms the item accepts (answers.py)."""
    if not isinstance(submitted, str) or len(submitted) > MAX_CHARS:
        return "unreadable"
    if item.kind in CHOICE_KINDS:
        choice_id = submitted.strip()
        if choice_id not in {choice.id for choice in item.choices}:
            return "unreadable"
        return "right" if choice_id == item.answer else "wrong"
    if item.kind == "number":
        value = parse_number(submitted)
        if value is None:
            return "unreadable"
        slack = item.tolerance + 1e-9 * max(1.0, abs(item.answer))
        return "right" if abs(value - item.answer) <= slack else "wrong"
    shape = parse_shape(submitted)
    if shape is None:
        return "unreadable"
    return "right" if shape == list(item.answer) else "wrong"


def check_answer(item: Item, submitted: str) -> bool:
    """Whether `submitted` (raw text from a form) is the right answer to `item`."""
    return grade(item, submitted) == "right"
