"""The small rules of a class: join codes, display names, the presets a teacher can push, and which of a
student's settings the teacher has locked."""

import re
import secrets
import unicodedata

from app.training.lessons import LESSONS
from app.training.specs import SPEC_CLASSES

# No 0/O, 1/I/L: a code read off a projector is typed without guessing.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
NAME_MAX = 30
TITLE_MAX = 80

# What a teacher can push: each model at its book defaults, and each lesson of the playground pages.
PRESETS: dict[str, dict] = {
    "linreg": {"model": "linreg"},
    "softmax": {"model": "softmax"},
    "mlp": {"model": "mlp"},
    **{f"lesson:{key}": dict(lesson.spec) for key, lesson in LESSONS.items()},
}


class ClassProblem(Exception):
    """A class request that cannot be done; `code` and `values` let the web say why in the visitor's
    language (the English is the message)."""

    def __init__(self, message: str, code: str, status: int = 422, **values):
        super().__init__(message)
        self.code, self.status, self.values = code, status, values


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(text: str) -> str | None:
    """What a student typed as the code, upper-cased and without spaces or dashes; None if it cannot be
    one (so a lookup is never tried with arbitrary text)."""
    code = re.sub(r"[\s-]", "", text or "").upper()
    if len(code) == CODE_LENGTH and all(char in CODE_ALPHABET for char in code):
        return code
    return None


def clean_name(text: str) -> str:
    """A display name: any script, inner whitespace as one space, control characters refused."""
    name = " ".join((text or "").split())
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ClassProblem("name: use letters, digits and spaces only", "name_characters")
    if not 1 <= len(name) <= NAME_MAX:
        raise ClassProblem(
            f"name: 1 to {NAME_MAX} characters, please (got {len(name)})",
            "name_length",
            most=NAME_MAX,
            got=len(name),
        )
    return name


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name (2)`, `name (3)` ... the first one nobody in the class has (compared caseless)."""
    taken_folded = {other.casefold() for other in taken}
    candidate, number = name, 1
    while candidate.casefold() in taken_folded:
        number += 1
        candidate = f"{name} ({number})"
    return candidate


def clean_title(text: str) -> str:
    title = " ".join((text or "").split())
    if not 1 <= len(title) <= TITLE_MAX:
        raise ClassProblem(
            f"title: 1 to {TITLE_MAX} characters, please (got {len(title)})",
            "title_length",
            most=TITLE_MAX,
            got=len(title),
        )
    return title


def settable(model: str) -> tuple[str, ...]:
    """The settings of a model's run spec a teacher may leave to the students."""
    return tuple(name for name in SPEC_CLASSES[model].model_fields if name != "model")


def check_unlocked(model: str, unlocked: list[str]) -> list[str]:
    allowed = settable(model)
    unknown = [name for name in unlocked if name not in allowed]
    if unknown:
        raise ClassProblem(
            f"unlocked: {', '.join(unknown)} is not a setting of {model}; choose from {', '.join(allowed)}",
            "unknown_setting",
            names=", ".join(unknown),
            model=model,
        )
    return [name for name in allowed if name in unlocked]  # each once, in the spec's order


def locked_changes(class_spec: dict, unlocked: list[str], student_spec: dict) -> list[str]:
    """The locked settings a student's (validated) spec gives another value than the class's."""
    return [
        name
        for name, value in class_spec.items()
        if name not in unlocked and name != "model" and student_spec.get(name) != value
    ]
