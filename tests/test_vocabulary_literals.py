"""The canonical vocabularies are listed once, in pipelines/policy.py (docs/architecture.md):
models join the vocabulary tables built from it and Python imports it, so no SQL model and no
Python module outside the policy lists open statuses, environments or severities.

Reads the files; no build. A finding is a SQL `in (...)` or `values ...` list, or a Python
list, tuple, set or dict keys, holding two or more canonical names of one vocabulary, or a
`when 'staging' then` branch of a `case` ladder (SQL text inside Python strings included).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pipelines.policy import ENVIRONMENTS, SEVERITIES, STATUSES
from tests.conftest import ROOT

VOCABULARIES = {"environment": set(ENVIRONMENTS), "severity": set(SEVERITIES), "status": set(STATUSES)}
CANONICAL = set().union(*VOCABULARIES.values())

SQL_FOLDERS = [ROOT / "dbt_project" / name for name in ("models", "macros", "tests")]
PYTHON_ROOT = ROOT / "pipelines"
# The policy itself, and the synthetic-data generator, which writes the vendors' own names.
PYTHON_EXCLUDED = ("pipelines/policy.py", "pipelines/synthetic/")

SQL_COMMENT = re.compile(r"--[^\n]*|\{#.*?#\}", re.DOTALL)
SQL_IN_LIST = re.compile(r"\bin\s*\(([^()]*)\)", re.IGNORECASE)
SQL_VALUES = re.compile(r"\bvalues\s*((?:\([^()]*\)\s*,?\s*)+)", re.IGNORECASE)
SQL_LITERAL = re.compile(r"'([^']*)'")
SQL_LADDER = re.compile(r"\bwhen\s+'([^']*)'\s+then\b", re.IGNORECASE)


def lists_a_vocabulary(names: list[str]) -> bool:
    """Two or more distinct canonical names of one vocabulary."""
    return any(len(vocabulary & set(names)) >= 2 for vocabulary in VOCABULARIES.values())


def sql_findings(text: str) -> list[int]:
    """Line numbers (1-based) of vocabulary lists and case ladders in SQL text."""
    # Comments become blanks of the same shape, so line numbers do not move.
    code = SQL_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    starts = [m.start(1) for pattern in (SQL_IN_LIST, SQL_VALUES) for m in pattern.finditer(code)
              if lists_a_vocabulary(SQL_LITERAL.findall(m.group(1)))]
    starts += [m.start() for m in SQL_LADDER.finditer(code) if m.group(1) in CANONICAL]
    return sorted({code.count("\n", 0, start) + 1 for start in starts})


def python_findings(source: str) -> list[int]:
    """Line numbers of vocabulary collections in Python, and of SQL strings that list one."""
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            names = [item.value for item in items if isinstance(item, ast.Constant) and isinstance(item.value, str)]
            if lists_a_vocabulary(names):
                lines.add(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and sql_findings(node.value):
            lines.add(node.lineno)
    return sorted(lines)


def findings(root: Path = ROOT) -> list[str]:
    """`path:line` for every vocabulary literal outside the policy."""
    found = []
    for folder in SQL_FOLDERS:
        for path in sorted((root / folder.relative_to(ROOT)).rglob("*.sql")):
            found += [f"{path.relative_to(root)}:{n}" for n in sql_findings(path.read_text(encoding="utf-8"))]
    for path in sorted((root / PYTHON_ROOT.relative_to(ROOT)).rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(PYTHON_EXCLUDED):
            continue
        found += [f"{relative}:{n}" for n in python_findings(path.read_text(encoding="utf-8"))]
    return found


def test_no_vocabulary_is_listed_outside_the_policy():
    assert findings() == []


def test_sql_lists_and_ladders_are_found():
    sql = """select
    severity in ('S1', 'S2') as urgent,  -- 2: a severity list
    case environment
        when 'dev' then 1  -- 4: a ladder
        else 6
    end as rank,
    environment = 'production' as is_escaped,  -- one name: allowed
    coalesce(status, 'new') as status,  -- one name: allowed
    status in ('new', 'S1') as mixed,  -- one name of each vocabulary: allowed
    -- status in ('new', 'triaged') was here: a comment is allowed
from t
cross join (values ('new'),  -- 12: a values list across lines
    ('closed')) as s (status)
"""
    assert sql_findings(sql) == [2, 4, 12]


def test_python_collections_and_sql_strings_are_found():
    source = """PRE_RELEASE = ("dev", "ci")  # 1
SEGMENTS = ["canary", "blue", "green"]
WEIGHTS = {"S1": 1.0, "S2": 0.66}  # 3
ESCAPE = "production"
SQL = "select * from t where environment in ('staging', 'production')"  # 5
"""
    assert python_findings(source) == [1, 3, 5]
