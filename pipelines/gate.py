"""`defectflow gate`: the release-gate verdict for one (service, release, environment),
read from `marts.release_gate` / `marts.release_gate_findings` (docs/metrics.md "Release gate").

The verdict is the build's, with one exception: a waiver that was active at the
build's as-of but has expired since (relative to now) no longer waives, so a CI
pipeline cannot ship on a waiver that ran out after the weekly build.
"""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import duckdb

from pipelines.printable import printable
from pipelines.warehouse import connect, damaged_message, unreadable_reason

EXIT_PASS, EXIT_HOLD, EXIT_ERROR = 0, 1, 2

RULE_TEXT = {
    "BLOCKING_SEVERITY_OPEN": "open defect(s) of a blocking severity",
    "OPEN_TOLERANCE_EXCEEDED": "open defect(s) over the tolerance",
    "STOP_THE_LINE": "unresolved S1 production incident(s)",
    "PREVIOUS_ESCAPE_RCA_MISSING": "previous release needs a root-cause analysis and has no RCA link",
    "FREEZE_INTAKE": "defect(s) of a freeze-bar severity fixed after the code freeze",
}


class GateError(Exception):
    """The gate cannot give a verdict; the message says why and what to do (exit 2)."""


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str | None
    observed: float
    threshold: float | None
    defect_ids: tuple[str, ...]
    incident_ids: tuple[str, ...]
    waived: bool
    waiver_approver: str | None = None
    waiver_reason: str | None = None
    waiver_expires_at: datetime | None = None


@dataclass(frozen=True)
class GateResult:
    service: str
    release: str
    environment: str
    verdict: str
    findings: tuple[Finding, ...]
    as_of: datetime
    age_hours: float
    previous_release: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.verdict == "PASS" else EXIT_HOLD


def _near(value: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(value, known, n=5, cutoff=0.6)
    if close:
        return f"unknown {what} {value!r}; did you mean: {', '.join(close)}?"
    shown = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
    return f"unknown {what} {value!r}; known: {shown or '(none)'}"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _read(con: duckdb.DuckDBPyConnection, service: str, release: str, environment: str):
    as_of_row = con.execute("select max(as_of) from marts.build_metadata").fetchone()
    if as_of_row is None or as_of_row[0] is None:
        raise GateError("the warehouse has no as-of (marts.build_metadata is empty): run `defectflow build`")
    key = con.execute(
        "select verdict, previous_release from marts.release_gate "
        "where service = ? and release = ? and environment = ?",
        [service, release, environment],
    ).fetchone()
    if key is None:
        services = [r[0] for r in con.execute(
            "select distinct service from marts.release_gate order by service").fetchall()]
        if service not in services:
            raise GateError(_near(service, services, "service"))
        releases = [r[0] for r in con.execute(
            "select distinct release from marts.release_gate where service = ? order by release",
            [service]).fetchall()]
        if release not in releases:
            raise GateError(_near(release, releases, f"release of {service}"))
        environments = [r[0] for r in con.execute(
            "select distinct environment from marts.release_gate order by environment").fetchall()]
        raise GateError(_near(environment, environments, "gate environment (policy.gates)"))
    rows = con.execute(
        "select rule, severity, observed, threshold, defect_ids, incident_ids, is_waived, "
        "waiver_approver, waiver_reason, waiver_expires_at from marts.release_gate_findings "
        "where service = ? and release = ? and environment = ? order by rule, severity nulls first",
        [service, release, environment],
    ).fetchall()
    return _utc(as_of_row[0]), key, rows


def evaluate(
    warehouse: Path,
    service: str,
    release: str,
    environment: str,
    max_age_hours: float | None,
    policy_max_age_hours: float,
    now: datetime | None = None,
) -> GateResult:
    """The gate verdict from the warehouse (read-only). Raises GateError when there is none to give."""
    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise GateError(f"warehouse {warehouse} does not exist: run `defectflow build` first "
                        "(or pass --warehouse PATH)")
    if warehouse.is_dir():
        raise GateError(f"--warehouse {warehouse} is a directory: name the warehouse file")
    try:
        with connect(warehouse, read_only=True) as con:
            as_of, (_build_verdict, previous_release), rows = _read(con, service, release, environment)
    except duckdb.CatalogException as exc:
        raise GateError(f"warehouse {warehouse} has no release gate tables ({exc}): "
                        "rebuild it with `defectflow build`") from exc
    except duckdb.Error as exc:
        reason = unreadable_reason(warehouse)
        if reason is not None:
            raise GateError(damaged_message(warehouse, reason)) from None
        raise GateError(f"cannot open warehouse {warehouse} read-only: {exc}") from exc

    now = _utc(now or datetime.now(UTC))
    age_hours = (now - as_of).total_seconds() / 3600.0
    warnings: list[str] = []
    as_of_text = as_of.isoformat().replace("+00:00", "Z")
    if max_age_hours is not None and age_hours > max_age_hours:
        raise GateError(f"warehouse as-of {as_of_text} is {age_hours:.1f} h old, more than "
                        f"--max-age {max_age_hours:g} h: rebuild it with `defectflow build`")
    if age_hours > policy_max_age_hours:
        warnings.append(f"warehouse as-of {as_of_text} is {age_hours:.1f} h old, more than "
                        f"policy gate_max_age_hours {policy_max_age_hours:g} h: the verdict may be stale")

    findings: list[Finding] = []
    for rule, severity, observed, threshold, defect_ids, incident_ids, waived, approver, reason, expires in rows:
        expires = _utc(expires) if expires is not None else None
        if waived and expires is not None and expires <= now:
            warnings.append(f"the waiver of {rule} approved by {approver} expired at "
                            f"{expires.isoformat().replace('+00:00', 'Z')}, after the build: it no longer waives")
            waived = False
        findings.append(Finding(
            rule=rule, severity=severity, observed=float(observed),
            threshold=None if threshold is None else float(threshold),
            defect_ids=tuple(defect_ids or ()), incident_ids=tuple(incident_ids or ()),
            waived=bool(waived), waiver_approver=approver, waiver_reason=reason, waiver_expires_at=expires,
        ))
    # The mart's verdict, re-derived so that a waiver expired since the build holds.
    verdict = "HOLD" if any(not f.waived for f in findings) else "PASS"
    return GateResult(service=service, release=release, environment=environment, verdict=verdict,
                      findings=tuple(findings), as_of=as_of, age_hours=age_hours,
                      previous_release=previous_release, warnings=tuple(warnings))


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def format_text(result: GateResult) -> str:
    lines = [
        f"release gate {result.service} {result.release} -> {result.environment}: {result.verdict}",
        f"warehouse as-of {_ts(result.as_of)} ({result.age_hours:.1f} h ago)",
    ]
    lines += [f"warning: {w}" for w in result.warnings]
    if not result.findings:
        lines.append("no rule fired")
    for f in result.findings:
        label = "waived" if f.waived else "HOLD"
        subject = f"{f.rule}" + (f" [{f.severity}]" if f.severity else "")
        if f.rule == "PREVIOUS_ESCAPE_RCA_MISSING":
            what = (f"{RULE_TEXT[f.rule]} (release {result.previous_release}, escape rate "
                    f"{_number(f.observed)} > {_number(f.threshold)})")
        else:
            what = f"{_number(f.observed)} {RULE_TEXT.get(f.rule, '')} (allowed {_number(f.threshold)})"
        ids = list(f.defect_ids) + list(f.incident_ids)
        lines.append(f"  {label:<6} {subject}: {what}" + (f": {', '.join(ids)}" if ids else ""))
        if f.waiver_approver:
            state = "waived by" if f.waived else "expired waiver by"
            lines.append(f"         {state} {f.waiver_approver} until {_ts(f.waiver_expires_at)}"
                         + (f": {f.waiver_reason}" if f.waiver_reason else ""))
    # defect ids, services and waiver reasons are data: a newline in one must not forge a line
    return "\n".join(map(printable, lines))


def to_json(result: GateResult) -> dict:
    return {
        "service": result.service,
        "release": result.release,
        "environment": result.environment,
        "verdict": result.verdict,
        "exit_code": result.exit_code,
        "as_of": _ts(result.as_of),
        "age_hours": round(result.age_hours, 3),
        "previous_release": result.previous_release,
        "warnings": list(result.warnings),
        "reasons": [
            {
                "rule": f.rule,
                "severity": f.severity,
                "observed": f.observed,
                "threshold": f.threshold,
                "defect_ids": list(f.defect_ids),
                "incident_ids": list(f.incident_ids),
                "waived": f.waived,
                "waiver": None if f.waiver_approver is None else {
                    "approver": f.waiver_approver,
                    "reason": f.waiver_reason,
                    "expires_at": _ts(f.waiver_expires_at),
                },
            }
            for f in result.findings
        ],
    }


def run(
    warehouse: Path,
    service: str,
    release: str,
    environment: str,
    max_age_hours: float | None,
    policy_max_age_hours: float,
    as_json: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    """What `defectflow gate` does: print the verdict (text or JSON), return 0 PASS, 1 HOLD, 2 error."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        result = evaluate(warehouse, service, release, environment, max_age_hours, policy_max_age_hours, now=now)
    except GateError as exc:
        if as_json:
            print(json.dumps({"verdict": None, "exit_code": EXIT_ERROR, "error": str(exc)}), file=out)
        print(f"gate error: {printable(exc)}", file=err)
        return EXIT_ERROR
    if as_json:
        print(json.dumps(to_json(result), indent=2), file=out)
        for warning in result.warnings:
            print(f"warning: {printable(warning)}", file=err)
    else:
        print(format_text(result), file=out)
    return result.exit_code
