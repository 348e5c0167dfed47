"""Exception types with one-line, precise messages.

The CLI turns a :class:`VariantError` into a single line on stderr and exit
status 2; a :class:`VerificationError` stops the build before anything is
written to the output folder.
"""
from __future__ import annotations


class VariantError(ValueError):
    """A variant file is missing a key, has an unknown one, or a value out of range.

    The message always names the file, the key, the offending value and what
    would have been allowed, on one line.
    """

    def __init__(self, file: str, key: str, value: object, allowed: str) -> None:
        self.file, self.key, self.value, self.allowed = file, key, value, allowed
        shown = "<missing>" if value is _MISSING else quote(value)
        super().__init__(f"{file}: {key} = {shown}: {allowed}")


QUOTE_LIMIT = 60


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, cut to about ``limit`` characters (with the full length) so a message stays one line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    length = f", {len(value)} characters" if isinstance(value, str) else ""
    return f"{text[:limit - 1]}…{text[-1]} (cut{length})"


class _Missing:
    def __repr__(self) -> str:  # pragma: no cover - only for debugging
        return "<missing>"


_MISSING = _Missing()
MISSING = _MISSING


class VerificationError(RuntimeError):
    """A derived closed form disagreed with its independent check."""


class DerivationError(RuntimeError):
    """A question group's step failed (an exception in derive, check or present), or the
    groups clash; the message names the group and the step on one line."""


class OutputError(RuntimeError):
    """The output folder cannot take the outputs (e.g. a handout beside answers); checked before any work."""


class ToolError(RuntimeError):
    """An external tool (pdflatex) failed; the message says which and where the log is."""
