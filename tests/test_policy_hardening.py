"""A policy is checked by the rules that run it; a report parameter is data of a declared name and type."""

from __future__ import annotations

import papermill as pm
import pytest

from pipelines.policy import PolicyError, load_policy
from pipelines.reporting.catalog import ReportParameterError, check_declared
from pipelines.reporting.render import NOTEBOOKS_DIR, render_notebook

POLICY_CASES = [
    ("default_timezone: localtime\n",
     ["default_timezone: unknown time zone 'localtime': not an IANA time zone name"]),
    ("default_timezone: /etc/localtime\n",
     ["default_timezone: unknown time zone '/etc/localtime': not an IANA time zone name"]),
    ("defect_key_pattern: '(?<=fix )[A-Z]+-[0-9]+'\n",
     ["defect_key_pattern: not a regular expression DuckDB (RE2 syntax) accepts: invalid perl operator: (?<"]),
    ("sla_hours: {S1: -1, S2: .nan, S3: 0, S4: .inf}\n",
     ["sla_hours.S1: Input should be greater than 0", "sla_hours.S2: Input should be a finite number",
      "sla_hours.S3: Input should be greater than 0", "sla_hours.S4: Input should be a finite number"]),
    ("priority_weights: {severity: 1.5, recurrence: -0.5, users: 0, no_workaround: 0}\n",
     ["priority_weights.severity: Input should be less than or equal to 1",
      "priority_weights.recurrence: Input should be greater than or equal to 0"]),
    ("gates: {production: {max_open: {S1: -1}}}\n",
     ["gates.production.max_open.S1: Input should be greater than or equal to 0"]),
    ("attribution_window_hours: .inf\n", ["attribution_window_hours: Input should be a finite number"]),
    ("gates:\n  production:\n    max_open: " + "[" * 100_000 + "]" * 100_000 + "\n",
     ["gates.production.max_open: nested deeper than 32 levels"]),
]


@pytest.mark.parametrize("text, errors", POLICY_CASES, ids=[c[1][0].split(":")[0] for c in POLICY_CASES])
def test_policy_is_refused_naming_the_key(tmp_path, text, errors):
    path = tmp_path / "policy.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"invalid policy {path}:"
    assert [line.strip()[:len(error)] for line, error in zip(lines[1:], errors, strict=True)] == errors


def test_an_iana_zone_and_an_re2_pattern_pass(tmp_path):
    path = tmp_path / "policy.yml"
    path.write_text("default_timezone: America/Sao_Paulo\ndefect_key_pattern: '\\b[A-Z]{2,}-\\d+'\n", encoding="utf-8")
    policy = load_policy(path)
    assert (policy.default_timezone, policy.defect_key_pattern) == ("America/Sao_Paulo", r"\b[A-Z]{2,}-\d+")


def _declared(notebook: str) -> dict[str, str]:
    return {k: v["inferred_type_name"] for k, v in pm.inspect_notebook(str(NOTEBOOKS_DIR / f"{notebook}.ipynb")).items()}


def test_notebooks_declare_their_parameters_with_types():
    assert _declared("clusters") == {"cluster": "Optional[str]", "defect": "Optional[str]", "weeks": "int",
                                     "as_of": "Optional[str]", "warehouse": "Optional[str]"}
    assert _declared("executive_briefing") == {"as_of": "Optional[str]", "warehouse": "str",
                                               "services": "list[str]", "period_weeks": "int"}


def test_a_parameter_name_the_notebook_does_not_declare_never_reaches_the_kernel(tmp_path):
    hostile = "__import__('os').system('touch pwned')#"
    with pytest.raises(ReportParameterError) as caught:
        render_notebook("executive_briefing", {hostile: "1"}, tmp_path, "2026-03-31")
    assert str(caught.value).startswith(f"unknown parameter of notebook executive_briefing {hostile!r}")
    assert list(tmp_path.iterdir()) == []  # refused before any folder or kernel


@pytest.mark.parametrize("params, message", [
    ({"period_weeks": "4; import os"}, "period_weeks must be int, got str '4; import os'"),
    ({"services": "a,b"}, "services must be list[str], got str 'a,b'"),
    ({"services": ["a", 1]}, "services must be list[str], got list ['a', 1]"),
    ({"period_weeks": True}, "period_weeks must be int, got bool True"),
])
def test_a_value_of_another_type_than_declared_is_refused(params, message):
    with pytest.raises(ReportParameterError) as caught:
        check_declared("executive_briefing", _declared("executive_briefing"), params)
    assert str(caught.value) == message


def test_declared_values_pass_and_stay_data():
    params = {"as_of": None, "services": ["pay'); import os; ('"], "period_weeks": 4, "warehouse": "w.duckdb"}
    check_declared("executive_briefing", _declared("executive_briefing"), params)
    # papermill writes a value as a literal: the quote stays inside the string
    assert pm.translators.PythonTranslator.translate(params["services"]) == '["pay\'); import os; (\'"]'
