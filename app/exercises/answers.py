"""How a typed answer is read: numbers, counts and tensor shapes in every form that means one thing.

A number may be written 0.25, .25, 2.5e-1, 2.5 x 10^-1, 1/4, 25% or with a decimal comma, 0,25 (where
the comma cannot be a thousands separator); a count 65546000, 65,546,000, 65 546 000, 65_546_000,
65'546'000 or 65.546.000; a shape 4x3, 4 x 3, 4×3, 4*3, 4, 3, 4 3, (4, 3), [4, 3] or torch.Size([4, 3]),
and one dimension 7, (7,), [7] or torch.Size([7]). Full-width characters (（7，）, ０.２５) read as their
ASCII twins. Anything else is unreadable (None), which the page answers with the forms it accepts,
never with "Not yet". The examples shown for each kind of question (ACCEPTED_FORMS) answer none of them.

The web process imports this module, so it must never import torch.
"""

import math
import re
import unicodedata

MAX_CHARS = 200  # what the answer field allows

ACCEPTED_FORMS = {
    "number": ["0.75", "3/4", "75%", "7.5e-1", "0,75"],
    "count": ["1234567", "1,234,567", "1 234 567", "1.234567e6"],
    "shape": ["2x5", "(2, 5)", "[2, 5]", "torch.Size([2, 5])", "5", "(5,)", "[5]", "torch.Size([5])"],
}

_PLAIN = re.compile(r"[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:e[+-]?\d+)?", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"([+-]?\d+),(\d+(?:e[+-]?\d+)?)", re.IGNORECASE)
_TIMES_TEN = re.compile(r"(.+?)\s*(?:x|×|\*|·)\s*10\s*(?:\^|\*\*)\s*([+-]?\d{1,3})", re.IGNORECASE)
# A thousands separator and the decimal marks that may follow it: "1,234.5", "1 234,5", "1.234,5".
_GROUPINGS = {",": ".", " ": ".,", "'": ".,", ".": ","}
_SIZE = re.compile(r"(?:torch\.)?size\((.*)\)", re.IGNORECASE | re.DOTALL)
_DIMENSION_SEPARATOR = re.compile(r"\s*(?:x|×|\*|,)\s*|\s+", re.IGNORECASE)
_BRACKETS = {"(": ")", "[": "]"}


def normalized(text: str) -> str:
    """Full-width forms as ASCII (NFKC), the minus sign as '-', runs of spaces as one, ends trimmed."""
    text = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    return re.sub(r"\s+", " ", text).strip()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _grouped(text: str) -> float | None:
    """1,234,567 or 1 234 567 or 1'234'567 (with a decimal part after the other mark), or 1.234.567."""
    for separator, decimal_marks in _GROUPINGS.items():
        sep, marks = re.escape(separator), re.escape(decimal_marks)
        match = re.fullmatch(rf"([+-]?[1-9]\d{{0,2}}(?:{sep}\d{{3}})+)(?:[{marks}](\d+))?", text)
        if not match:
            continue
        whole, fraction = match.group(1).replace(separator, ""), match.group(2)
        if separator == "." and fraction is None and match.group(1).count(".") < 2:
            continue  # 1.234 is a decimal, read as one by _PLAIN
        return float(whole + ("." + fraction if fraction else ""))
    return None


def _plain_number(text: str) -> float | None:
    """One number with no fraction bar or percent sign: decimal point or comma, groups, exponent."""
    if _PLAIN.fullmatch(text):
        try:
            return _finite(float(text))
        except (ValueError, OverflowError):
            pass  # underscores in the wrong places; perhaps grouped below
    grouped = _grouped(text)
    if grouped is not None:
        return _finite(grouped)
    comma = _DECIMAL_COMMA.fullmatch(text)
    if comma:
        return _finite(float(f"{comma.group(1)}.{comma.group(2)}"))
    times_ten = _TIMES_TEN.fullmatch(text)
    if times_ten:
        mantissa = _plain_number(times_ten.group(1))
        if mantissa is not None:
            return _finite(mantissa * 10.0 ** int(times_ten.group(2)))
    return None


def parse_number(text: str) -> float | None:
    """A finite float, or None when the text is not one number in a form listed above."""
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        return None
    text = normalized(text)
    if text.endswith("%"):
        value = _plain_number(text[:-1].rstrip())
        return None if value is None else value / 100
    if text.count("/") == 1:
        numerator, denominator = (_plain_number(part.strip()) for part in text.split("/"))
        if numerator is None or not denominator:
            return None
        return _finite(numerator / denominator)
    return _plain_number(text)


def _unwrapped(text: str) -> str | None:
    """The dimensions inside torch.Size(...), (...) or [...]; None for brackets that do not match."""
    size = _SIZE.fullmatch(text)
    if size:
        text = size.group(1).strip()
        if not text or text[0] not in _BRACKETS:
            return None
    if text and text[0] in _BRACKETS:
        if _BRACKETS[text[0]] != text[-1]:
            return None
        text = text[1:-1].strip()
    return text.removesuffix(",").rstrip()  # (7,) is a one-dimensional tuple


def parse_shape(text: str) -> list[int] | None:
    """The dimensions, or None when the text is not a shape in a form listed above."""
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        return None
    inner = _unwrapped(normalized(text))
    if not inner:
        return None
    parts = _DIMENSION_SEPARATOR.split(inner)
    if not all(re.fullmatch(r"\d{1,9}", part) for part in parts):
        return None
    return [int(part) for part in parts]
