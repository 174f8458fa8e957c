"""How a case says what went wrong. Each failure names what was expected and what came,
and, when it is about a specific sentence of the spec, the requirement id."""

from __future__ import annotations

import json
from typing import Any, Optional


def show(value: Any, limit: int = 600) -> str:
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text


class CaseFailure(AssertionError):
    """The target did not do what the spec says."""

    def __init__(self, message: str, *, expected: Any = None, actual: Any = None,
                 req: Optional[str] = None, has_expected: bool = False):
        self.message = message
        self.expected = expected
        self.actual = actual
        self.req = req
        self.has_expected = has_expected or expected is not None or actual is not None
        text = message
        if req:
            text = "[%s] %s" % (req, text)
        if self.has_expected:
            text += "\n  expected: %s\n  actual:   %s" % (
                expected if isinstance(expected, str) else show(expected),
                actual if isinstance(actual, str) else show(actual))
        super().__init__(text)


class TargetViolation(CaseFailure):
    """A wire-level rule checked on every exchange (schemas, content type, status mapping,
    leaks) was broken. Always MUST level, whatever the case's level."""


class SuiteBug(Exception):
    """The suite itself sent something it meant to be valid but that violates the spec's
    schemas: a bug of the suite, not of the target."""


def fail(message: str, *, expected: Any = None, actual: Any = None, req: Optional[str] = None):
    raise CaseFailure(message, expected=expected, actual=actual, req=req)


def check(condition: Any, message: str, *, expected: Any = None, actual: Any = None,
          req: Optional[str] = None) -> None:
    if not condition:
        raise CaseFailure(message, expected=expected, actual=actual, req=req)


def eq(actual: Any, expected: Any, what: str, *, req: Optional[str] = None) -> None:
    """Equality that tells 1 from "1" and 1 from true (JSON types matter)."""
    if not same_json(actual, expected):
        raise CaseFailure(what, expected=expected, actual=actual, req=req, has_expected=True)


def same_json(a: Any, b: Any) -> bool:
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return a == b
