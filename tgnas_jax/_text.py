"""Quoting untrusted input in error messages: a bad 10 MB string must not make a 10 MB message."""

from __future__ import annotations

#: How much of a bad input a message quotes, in characters.
QUOTE_LIMIT = 200


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` when short; else the repr of its first ``limit`` characters and its length."""
    if isinstance(value, str | bytes):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int past Python's 4300-digit limit, a list nested too deep
        return f"<{type(value).__name__} too large to print>"
    return clip(text, limit)


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was: for messages that embed other messages."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
