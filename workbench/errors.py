"""One error root for everything a user can fix, plus a warning class for data notes."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class WorkbenchError(ValueError):
    """Root of every error the workbench raises for bad input or bad parameters."""


class MissingColumnError(WorkbenchError):
    """A required column (role) is absent from the input."""


class BadDataError(WorkbenchError):
    """Values in a column cannot be used (wrong type, unparseable, null, duplicated, in the future)."""


class BadParameterError(WorkbenchError):
    """A keyword argument has a value the function cannot use."""


class DataSourceError(WorkbenchError):
    """A file, directory or database cannot be read."""


class NotFittedError(WorkbenchError):
    """A model was used before `fit`."""


class WorkbenchWarning(UserWarning):
    """Statistical or data-quality notes (small cohorts, dropped rows, PH violations)."""


def examples(values: Iterable, n: int = 3) -> str:
    """Render up to `n` example values for an error message."""
    out = []
    for v in values:
        out.append(repr(v))
        if len(out) >= n:
            break
    return "[" + ", ".join(out) + "]"


def closest(name: str, options: Sequence[str]) -> str | None:
    """Best fuzzy match of `name` among `options`, or None."""
    lowered = {o.lower(): o for o in options}
    if name.lower() in lowered:
        return lowered[name.lower()]
    match = difflib.get_close_matches(name, list(options), n=1, cutoff=0.5)
    if match:
        return match[0]
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None


def bad_choice(caller: str, param: str, value, choices: Iterable) -> BadParameterError:
    """Error for a parameter that must be one of a fixed set of choices."""
    choices = list(choices)
    hint = closest(str(value), [str(c) for c in choices])
    did = f" Did you mean {hint!r}?" if hint else ""
    return BadParameterError(
        f"{caller}: {param}={value!r} is not supported.{did} Choose one of {choices}."
    )
