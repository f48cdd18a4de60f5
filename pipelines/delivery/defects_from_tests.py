"""`defectflow defects-from-tests`: one CI run's failed tests as defect candidates
(docs/contract.md "defects-from-tests").

The JUnit files are read by the ingest's own reader (pipelines/defs/ingest), and every value
that the warehouse also computes is computed by the warehouse's own SQL, run in DuckDB over the
run's failures: the masked message and trace (macro `mask_text`, with the built warehouse's
names pattern) and the fingerprint (macro `test_failure_fingerprint`, the one
stg_exports__test_cases stores and fct_defects.stack_fingerprint is compared with).

A group of failures sharing a fingerprint is "seen again" when the warehouse holds an open
defect (open at the build's as-of) with that stack fingerprint, of the run's service or of an
unknown service; environment does not matter (the same fault found in staging and failing again
in CI is one defect). Every other group is a new candidate.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import duckdb
import pandas as pd

from pipelines import outbound
from pipelines.defs.ingest.adapters import junit
from pipelines.defs.ingest.canonical import DEFECTS, TEST_CASES
from pipelines.defs.ingest.detect import CanonicalCsv
from pipelines.defs.ingest.readers import ParsedFile, Read, read_file
from pipelines.delivery.macros import render
from pipelines.policy import ENVIRONMENTS, Policy, Tracker, match_key
from pipelines.warehouse import connect

EXIT_NONE, EXIT_NEW, EXIT_ERROR = 0, 1, 2
SUMMARY_LIMIT = 180  # characters of the failure message in a candidate's summary (Jira allows 255)

# One row per fingerprint group of the run's failures, with the open defects that cover it.
# Failures and groups are one CI run's: small. The warehouse side is filtered by fingerprint.
GROUPS_SQL = """
with failures as (
    select
        source_file,
        cast(case_index as integer) as case_index,
        concat_ws('.', {{ mask_text(text('classname')) }},
                  coalesce({{ mask_text(text('name')) }}, 'unnamed test ' || case_index)) as test,
        {{ mask_text(text('message')) }} as message,
        {{ mask_text(text('stack_trace')) }} as stack_trace,
        {{ stack_error_type(mask_text('coalesce(stack_trace, message)')) }} as error_type,
        {{ test_failure_fingerprint('stack_trace', 'message') }} as fingerprint,
        {{ text('executed_at') }} as executed_at
    from junit_cases
    where lower(trim(status)) in ('failed', 'error')
),

groups as (
    select
        fingerprint,
        count(*) as failures,
        list(distinct test order by test) as tests,
        arg_min(message, (source_file, case_index)) as message,
        arg_min(stack_trace, (source_file, case_index)) as stack_trace,
        arg_min(error_type, (source_file, case_index)) as error_type,
        min(executed_at) as first_executed_at
    from failures
    group by fingerprint
),

covering as (
    select
        d.stack_fingerprint as fingerprint,
        list(distinct d.defect_id order by d.defect_id) as defect_ids,
        list(distinct c.cluster_id order by c.cluster_id) filter (where c.cluster_id is not null) as cluster_ids
    from marts.fct_defects as d
    left join marts.defect_clusters as c on d.defect_id = c.defect_id
    where d.is_open
        and d.stack_fingerprint in (select fingerprint from groups)
        and (getvariable('df_run_service') is null or d.service = getvariable('df_run_service')
            or coalesce(d.service, 'unknown') = 'unknown')
    group by d.stack_fingerprint
),

earlier as (
    select fingerprint, count(*) as earlier_failures
    from marts.fct_test_cases
    where fingerprint in (select fingerprint from groups)
    group by fingerprint
)

select g.*, v.defect_ids, v.cluster_ids, coalesce(e.earlier_failures, 0) as earlier_failures
from groups as g
left join covering as v on g.fingerprint = v.fingerprint
left join earlier as e on g.fingerprint = e.fingerprint
order by g.failures desc, g.fingerprint nulls last
"""


class DefectsFromTestsError(Exception):
    """No candidates can be given; the message says why (exit 2)."""


@dataclass(frozen=True)
class Run:
    """The CI run the JUnit files come from (the command's options)."""

    environment: str
    build_url: str
    commit: str | None
    service: str | None


@dataclass(frozen=True)
class Group:
    """The run's failures that share one fingerprint."""

    fingerprint: str
    failures: int
    tests: tuple[str, ...]
    message: str | None
    stack_trace: str | None
    error_type: str | None
    first_executed_at: str | None
    defect_ids: tuple[str, ...]  # open defects with this fingerprint: non-empty means "seen again"
    cluster_ids: tuple[str, ...]
    earlier_failures: int  # failed test cases with this fingerprint the warehouse already holds


@dataclass(frozen=True)
class Outcome:
    candidates: tuple[Group, ...]
    seen_again: tuple[Group, ...]
    unfingerprinted: int  # failures with neither message nor trace: nothing to fingerprint
    commit: str | None


def junit_files(paths: Sequence[Path]) -> list[Path]:
    """The files given, a folder standing for every *.xml below it."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("*.xml")))
        elif path.is_file():
            found.append(path)
        else:
            raise DefectsFromTestsError(f"--junit {path}: no such file or folder")
    if not found:
        raise DefectsFromTestsError(f"no JUnit XML files in {', '.join(map(str, paths))}")
    return found


def read_cases(files: Sequence[Path], policy: Policy) -> pd.DataFrame:
    """Every test case of the files as the ingest reads them (the `test_cases` columns, as text)."""
    frames = []
    for path in files:
        parsed = read_file(path, policy, hashlib.sha256(path.read_bytes()).hexdigest())
        if not isinstance(parsed, ParsedFile) or parsed.format != junit.NAME:
            raise DefectsFromTestsError(f"{path} is not a JUnit XML report: {_what(parsed)}")
        for table in parsed.tables:
            empty = [None] * table.count
            columns = {name: table.columns.get(name, empty) for name in TEST_CASES.column_names}
            frames.append(pd.DataFrame({"source_file": str(path), **columns}, dtype=object))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["source_file", *TEST_CASES.column_names], dtype=object)


def _what(read: Read) -> str:
    if isinstance(read, CanonicalCsv):
        return f"a canonical {read.entity.name} CSV"
    if isinstance(read, ParsedFile):
        return f"a {read.format} file"
    return read.message or read.status


def canonical_environment(value: str, policy: Policy) -> str:
    """The canonical environment a name stands for (the policy's vocabulary, as the ingest maps it)."""
    names = {match_key(name): canonical for vocabulary, name, canonical in policy.vocabulary_names()
             if vocabulary == "environment"}
    if match_key(value) not in names:
        raise DefectsFromTestsError(f"--environment {value!r} is not an environment of the policy "
                                    f"(canonical: {', '.join(ENVIRONMENTS)})")
    return names[match_key(value)]


def find_groups(warehouse: Path, cases: pd.DataFrame, service: str | None) -> list[dict[str, Any]]:
    """The run's failures grouped by fingerprint and matched against the warehouse (read-only)."""
    if not warehouse.exists():
        raise DefectsFromTestsError(f"warehouse {warehouse} does not exist: run `defectflow build` first")
    try:
        with connect(warehouse, read_only=True) as con:
            con.execute(render("{{ set_person_pattern() }}"))
            con.execute("set variable df_run_service = ?", [service])
            con.register("junit_cases", cases)
            cursor = con.execute(render(GROUPS_SQL))
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
    except (duckdb.CatalogException, duckdb.IOException) as exc:
        raise DefectsFromTestsError(f"cannot read warehouse {warehouse} ({exc}): rebuild it with "
                                    "`defectflow build`") from exc


def classify(rows: list[dict[str, Any]], commit: str | None) -> Outcome:
    groups = [Group(fingerprint=row["fingerprint"], failures=row["failures"], tests=tuple(row["tests"]),
                    message=row["message"], stack_trace=row["stack_trace"], error_type=row["error_type"],
                    first_executed_at=row["first_executed_at"], defect_ids=tuple(row["defect_ids"] or ()),
                    cluster_ids=tuple(row["cluster_ids"] or ()), earlier_failures=row["earlier_failures"])
              for row in rows if row["fingerprint"] is not None]
    unfingerprinted = sum(row["failures"] for row in rows if row["fingerprint"] is None)
    return Outcome(candidates=tuple(g for g in groups if not g.defect_ids),
                   seen_again=tuple(g for g in groups if g.defect_ids), unfingerprinted=unfingerprinted,
                   commit=commit)


def _excerpt(group: Group, lines: int) -> str:
    text = group.stack_trace or group.message or ""
    kept = text.splitlines()
    return "\n".join(kept[:lines] + ([f"... ({len(kept) - lines} more lines)"] if len(kept) > lines else []))


def summary(group: Group, run: Run) -> str:
    headline = next(iter((group.message or "").splitlines()), "") or group.error_type or "test failure"
    if len(headline) > SUMMARY_LIMIT:
        headline = headline[: SUMMARY_LIMIT - 1] + "…"
    count = len(group.tests)
    prefix = f"[{run.service}] " if run.service else ""
    return f"{prefix}{headline} ({count} failing test{'s' if count != 1 else ''})"


def description(group: Group, run: Run, outcome: Outcome, tracker: Tracker) -> str:
    """Jira wiki markup: where it failed, which tests, the masked excerpt, the fingerprint."""
    where = [f"CI run: {run.build_url}", f"Environment: {run.environment}"]
    where += [f"Service: {run.service}"] if run.service else []
    where += [f"Commit: {outcome.commit}"] if outcome.commit else []
    excerpt = _excerpt(group, tracker.excerpt_lines).replace("{noformat}", "{ noformat }")
    return "\n".join([
        *where, "", f"Failing tests ({group.failures} failure{'s' if group.failures != 1 else ''}):",
        *[f"* {test}" for test in group.tests], "", "Log excerpt (masked):", "{noformat}", excerpt, "{noformat}",
        "", f"Stack fingerprint: {group.fingerprint} (first seen in {run.build_url}; "
            f"{group.earlier_failures} earlier failure(s) in the warehouse)",
    ])


def labels(group: Group, tracker: Tracker) -> list[str]:
    return [*tracker.labels, f"defectflow-fp-{group.fingerprint}"]


def create_payload(group: Group, run: Run, outcome: Outcome, tracker: Tracker) -> dict[str, Any]:
    """Jira REST `POST /rest/api/2/issue` body."""
    fields: dict[str, Any] = {
        "project": {"key": tracker.project_key},
        "issuetype": {"name": tracker.issue_type},
        "summary": summary(group, run),
        "description": description(group, run, outcome, tracker),
        "environment": run.environment,
        "labels": labels(group, tracker),
    }
    if tracker.fields.fingerprint:
        fields[tracker.fields.fingerprint] = group.fingerprint
    return {"fields": fields}


def canonical_row(group: Group, run: Run, outcome: Outcome, tracker: Tracker, now: datetime) -> dict[str, str]:
    """The candidate as a row of the canonical defects.csv (docs/contract.md section 1)."""
    values = {
        "defect_id": f"CI-{group.fingerprint}",
        "title": summary(group, run),
        "description": description(group, run, outcome, tracker),
        "severity": tracker.candidate_severity,
        "status": "new",
        "type": "bug",
        "service": run.service or "",
        "environment": run.environment,
        "created_at": group.first_executed_at or now.isoformat().replace("+00:00", "Z"),
        "stack_trace": group.stack_trace or group.message or "",
        "labels": ";".join(labels(group, tracker)),
        "url": run.build_url,
        "reporter": "defectflow",
    }
    return {name: values.get(name, "") for name in DEFECTS.column_names}


JIRA_CSV_HEADER = ["Summary", "Issue Type", "Environment", "Description", "Fingerprint"]


def jira_csv_row(group: Group, run: Run, outcome: Outcome, tracker: Tracker) -> list[str]:
    return [summary(group, run), tracker.issue_type, run.environment, description(group, run, outcome, tracker),
            group.fingerprint, *labels(group, tracker)]


SEEN_AGAIN_HEADER = ["fingerprint", "defect_ids", "cluster_ids", "environment", "service", "build_url",
                     "commit_sha", "failures", "tests", "seen_at"]


def seen_again_row(group: Group, run: Run, outcome: Outcome, now: datetime) -> list[str]:
    return [group.fingerprint, ";".join(group.defect_ids), ";".join(group.cluster_ids), run.environment,
            run.service or "", run.build_url, outcome.commit or "", str(group.failures), ";".join(group.tests),
            group.first_executed_at or now.isoformat().replace("+00:00", "Z")]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_outputs(out: Path, outcome: Outcome, run: Run, tracker: Tracker, now: datetime) -> dict[str, Any]:
    """The three formats of the candidates and the seen-again records; returns the payloads by fingerprint."""
    out.mkdir(parents=True, exist_ok=True)
    payloads = {g.fingerprint: create_payload(g, run, outcome, tracker) for g in outcome.candidates}
    create_dir = out / "jira-create"
    create_dir.mkdir(exist_ok=True)
    for stale in create_dir.glob("*.json"):  # a candidate of an earlier run in this folder is not one now
        stale.unlink()
    for fingerprint, payload in payloads.items():
        (create_dir / f"{fingerprint}.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                                                         encoding="utf-8")
    rows = [jira_csv_row(g, run, outcome, tracker) for g in outcome.candidates]
    extra_labels = max((len(row) - len(JIRA_CSV_HEADER) for row in rows), default=len(tracker.labels) + 1)
    # Jira's CSV importer takes a multi-valued field as repeated columns of one name.
    _write_csv(out / "jira-import.csv", [*JIRA_CSV_HEADER, *["Labels"] * extra_labels], rows)
    with (out / "defects.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, DEFECTS.column_names)
        writer.writeheader()
        writer.writerows(canonical_row(g, run, outcome, tracker, now) for g in outcome.candidates)
    _write_csv(out / "seen-again.csv", SEEN_AGAIN_HEADER,
               [seen_again_row(g, run, outcome, now) for g in outcome.seen_again])
    return payloads


def post_payloads(url: str, payloads: dict[str, Any], token: str, scheme: str) -> list[outbound.Delivery]:
    """Each payload to the tracker; the fingerprint is the idempotency key, so a retried run creates none twice."""
    return [outbound.post_json(url, payload, token=token, scheme=scheme, idempotency_key=fingerprint)
            for fingerprint, payload in payloads.items()]


def _report(outcome: Outcome, deliveries: list[outbound.Delivery], out: Path) -> dict[str, Any]:
    def brief(group: Group) -> dict[str, Any]:
        keep = ("fingerprint", "failures", "tests", "error_type", "defect_ids", "cluster_ids", "earlier_failures")
        return {key: value for key, value in asdict(group).items() if key in keep}

    return {
        "out": str(out),
        "candidates": [brief(g) for g in outcome.candidates],
        "seen_again": [brief(g) for g in outcome.seen_again],
        "unfingerprinted_failures": outcome.unfingerprinted,
        "deliveries": [{**asdict(d), "ok": d.ok} for d in deliveries],
    }


def run(
    junit_paths: Sequence[Path],
    run_info: Run,
    warehouse: Path,
    out: Path,
    policy: Policy,
    post_url: str | None = None,
    token_env: str = "JIRA_TOKEN",
    now: datetime | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """What the command does; returns 0 (no new candidates), 1 (candidates written) or 2 (error)."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    now = now or datetime.now(UTC)
    try:
        token = outbound.token_from_env(token_env) if post_url else ""
        run_info = Run(canonical_environment(run_info.environment, policy), run_info.build_url, run_info.commit,
                       run_info.service)
        cases = read_cases(junit_files(junit_paths), policy)
        commit = run_info.commit or next(iter(cases["commit_sha"].dropna()), None)
        outcome = classify(find_groups(warehouse, cases, run_info.service), commit)
        payloads = write_outputs(out, outcome, run_info, policy.tracker, now)
        deliveries = post_payloads(post_url, payloads, token, policy.tracker.auth_scheme) if post_url else []
    except (DefectsFromTestsError, outbound.OutboundError, OSError) as exc:
        print(f"defects-from-tests error: {exc}", file=stderr)
        return EXIT_ERROR
    report = _report(outcome, deliveries, out)
    (out / "summary.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(_text(outcome, out), file=stdout)
    failed = [d for d in deliveries if not d.ok]
    for delivery in failed:
        print(f"defects-from-tests error: {delivery.url}: {delivery.error} after {delivery.attempts} attempt(s): "
              f"{delivery.body[:500]}", file=stderr)
    if failed:
        return EXIT_ERROR
    return EXIT_NEW if outcome.candidates else EXIT_NONE


def _text(outcome: Outcome, out: Path) -> str:
    lines = [f"{len(outcome.candidates)} new defect candidate(s), {len(outcome.seen_again)} seen again "
             f"(files in {out})"]
    lines += [f"  new   {g.fingerprint}  {g.failures} failure(s): {', '.join(g.tests)}" for g in outcome.candidates]
    lines += [f"  seen  {g.fingerprint}  {g.failures} failure(s), open: {', '.join(g.defect_ids)}"
              for g in outcome.seen_again]
    if outcome.unfingerprinted:
        lines.append(f"  {outcome.unfingerprinted} failure(s) without message or stack trace: not fingerprinted")
    return "\n".join(lines)
