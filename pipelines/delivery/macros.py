"""The warehouse's own SQL macros (dbt_project/macros), rendered for queries run outside dbt.

A command that must compute what a model computes (a test failure's stack fingerprint, masked
text) renders the model's macro instead of restating it: one definition. These macros are plain
SQL templates; the only dbt context they use is `ref`, given here as the built warehouse's
relation names, so Jinja alone renders them as dbt would.
"""

from __future__ import annotations

import functools

import jinja2

from pipelines.warehouse import DBT_PROJECT_DIR

MACRO_FILES = ("defectflow.sql", "stack_fingerprint.sql", "commit_rule.sql")
# dbt_project.yml's schema per layer, by the model name's prefix (docs/architecture.md)
_SCHEMAS = {"stg": "staging", "int": "intermediate"}


def _ref(model: str) -> str:
    return f"{_SCHEMAS.get(model.split('_', 1)[0], 'marts')}.{model}"


@functools.cache
def _source() -> str:
    return "".join((DBT_PROJECT_DIR / "macros" / name).read_text(encoding="utf-8") for name in MACRO_FILES)


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(autoescape=False)  # SQL, not HTML


def render(template: str) -> str:
    """SQL written like a dbt model (`{{ mask_text('message') }}`), rendered with the macros in scope."""
    return _environment().from_string(_source() + template, globals={"ref": _ref}).render()
