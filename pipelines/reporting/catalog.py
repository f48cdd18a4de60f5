"""The reports users can render, their parameters, and how a parameter is checked.

``defectflow report NAME --param k=v`` and the Dagster report assets both go
through ``resolve``: an unknown report or parameter, a missing required one or
a value the warehouse does not know is a ``ReportParameterError`` listing the
valid values (or the nearest ones), before any kernel starts. Parameter values
reach the notebook as data (papermill writes them as string literals), never as
code.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

#: The values a parameter may take, and the error when it takes another one.
Validator = Callable[[duckdb.DuckDBPyConnection, dict[str, str]], dict[str, Any]]


class ReportParameterError(ValueError):
    """A report parameter is unknown, missing or names something the warehouse does not hold."""


@dataclass(frozen=True)
class Parameter:
    name: str
    help: str
    required: bool = False


@dataclass(frozen=True)
class Report:
    """One report: its CLI name, the notebook that lays it out and its parameters."""

    name: str
    notebook: str
    title: str
    parameters: tuple[Parameter, ...]
    # Checks the values against the warehouse and returns them typed for the notebook.
    validate: Validator = field(repr=False)
    #: ``marts`` tables the notebook reads: a warehouse without one is refused up front.
    tables: tuple[str, ...] = ()
    #: ``history`` tables it reads when present (a warehouse built before them has none).
    history: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    #: The page's file name from the validated parameters (default: the notebook's name).
    stem: Callable[[dict[str, Any]], str] | None = field(default=None, repr=False)

    def file_stem(self, params: dict[str, Any]) -> str:
        return self.stem(params) if self.stem else self.notebook


def suggest(value: str, choices: Iterable[str], what: str) -> ReportParameterError:
    """An error for a value not among ``choices``: the nearest ones, else (when few) all of them."""
    options = sorted({str(c) for c in choices})
    near = difflib.get_close_matches(value, options, n=5, cutoff=0.5)
    if near:
        hint = "did you mean " + ", ".join(near) + "?"
    elif not options:
        hint = "the warehouse holds none"
    elif len(options) <= 20:
        hint = "valid: " + ", ".join(options)
    else:
        hint = f"{len(options)} exist, e.g. " + ", ".join(options[:10])
    return ReportParameterError(f"unknown {what} {value!r}: {hint}")


def check_as_of(value: str | None) -> str | None:
    """``as_of`` is a date or ISO instant (the report warns when it is not the warehouse's)."""
    if value in (None, ""):
        return None
    try:
        date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise ReportParameterError(f"as_of must be YYYY-MM-DD or an ISO timestamp, got {value!r}") from exc
    return str(value)


def resolve(report: Report, con: duckdb.DuckDBPyConnection, given: Mapping[str, str]) -> dict[str, Any]:
    """Check user-given parameters by name, presence and value; return the notebook's parameters."""
    known = {p.name for p in report.parameters}
    for key in given:
        if key not in known:
            raise suggest(key, known, "parameter")
    missing = [p.name for p in report.parameters if p.required and not given.get(p.name)]
    if missing:
        usage = " ".join(f"--param {p.name}=..." for p in report.parameters if p.required)
        raise ReportParameterError(f"missing {', '.join(missing)} ({usage})")
    return report.validate(con, dict(given))


# The annotations a notebook's parameters cell may use, and the values each accepts.
# ``Optional[str]`` is written quoted in the notebook: papermill cannot parse ``str | None``.
_DECLARED_TYPES: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "Optional[str]": lambda v: v is None or isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "list[str]": lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
}


def check_declared(notebook: str, declared: Mapping[str, str], params: Mapping[str, Any]) -> None:
    """Every parameter is one the notebook's parameters cell declares (``declared``: name ->
    annotation), with a value of the declared type. Papermill writes each name into the
    kernel as code (``name = value``), so a name the notebook does not declare never reaches it."""
    for name, value in params.items():
        if name not in declared:
            raise suggest(name, declared, f"parameter of notebook {notebook}")
        accepts = _DECLARED_TYPES.get(declared[name])
        if accepts is None:
            raise ReportParameterError(f"notebook {notebook} declares {name} as {declared[name]!r}; "
                                       f"declare one of {', '.join(_DECLARED_TYPES)}")
        if not accepts(value):
            raise ReportParameterError(f"{name} must be {declared[name]}, got {type(value).__name__} {value!r}")


def find(name: str, reports: Iterable[Report]) -> Report:
    """The report called ``name`` (or one of its aliases)."""
    by_name = {alias: r for r in reports for alias in (r.name, *r.aliases)}
    if name not in by_name:
        raise suggest(name, [r.name for r in by_name.values()], "report")
    return by_name[name]
