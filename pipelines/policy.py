"""The policy: one typed model of `policy.yml`, validated before anything runs.

The policy is the single source of truth for vocabularies and thresholds. The
build writes it into the warehouse (`raw.policy_*` tables) so that dbt models
read the same mappings the ingest reported on.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# The canonical vocabularies (docs/metrics.md, Canonical vocabularies): the one place they are
# listed. The build writes them to raw.policy_environments / _statuses / _severities, which
# models join; Python reads these names.
ENVIRONMENTS = ("dev", "ci", "test", "staging", "production")  # in pipeline order (rank 1..5)
PRODUCTION = "production"
PRE_RELEASE_ENVIRONMENTS = tuple(e for e in ENVIRONMENTS if e != PRODUCTION)
SEVERITIES = ("S1", "S2", "S3", "S4")  # most severe first (rank 1..4)
STATUSES = ("new", "triaged", "in_progress", "resolved", "closed", "deferred")
OPEN_STATUSES = ("new", "triaged", "in_progress", "deferred")
# The comparison the headline shows: the last stop before production, and production.
HEADLINE_ENVIRONMENTS = ENVIRONMENTS[-2:]
RESOLUTIONS = ("fixed", "duplicate", "wont_fix", "cannot_reproduce")
# marts.defect_aging's age buckets, youngest first (docs/metrics.md, Aging).
AGE_BUCKETS = ("0-7d", "8-30d", "31-90d", ">90d")
# The priority score's severity term, per severity in SEVERITIES order (docs/metrics.md, Priority score).
SEVERITY_PRIORITY_FACTORS = (1.0, 0.66, 0.33, 0.0)

Severity = Literal["S1", "S2", "S3", "S4"]
Environment = Literal["dev", "ci", "test", "staging", "production"]

SHIPPED_POLICY = Path(__file__).resolve().parent.parent / "policy.yml"


@dataclass(frozen=True)
class VocabularyTables:
    """The canonical vocabularies as the rows of raw.policy_environments, raw.policy_statuses and
    raw.policy_severities, which models join instead of listing values."""

    environments: list[tuple[str, int, bool]]  # environment, rank (pipeline order), is_pre_release
    statuses: list[tuple[str, bool]]  # status, is_open
    severities: list[tuple[str, int, float]]  # severity, rank (most severe first), priority_factor


def vocabulary_tables() -> VocabularyTables:
    """The rows of the three vocabulary tables, from the constants above."""
    return VocabularyTables(
        environments=[(name, rank, name in PRE_RELEASE_ENVIRONMENTS) for rank, name in enumerate(ENVIRONMENTS, 1)],
        statuses=[(name, name in OPEN_STATUSES) for name in STATUSES],
        severities=[(name, rank, factor) for rank, (name, factor)
                    in enumerate(zip(SEVERITIES, SEVERITY_PRIORITY_FACTORS, strict=True), 1)],
    )


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the key and the reason."""


def match_key(value: str) -> str:
    """Normalise a raw vocabulary value: case, spaces and punctuation do not matter.

    The dbt macro `match_key` implements the same rule in SQL.
    """
    return re.sub(r"[\W_]+", "", value.lower())


# Test code is changed alongside the fix but never measured by a coverage
# report; counted, every escape's test files would be coverage gaps.
DEFAULT_COVERAGE_EXCLUDE = (
    "**/test/**", "**/tests/**", "**/__tests__/**", "**/test_*.py", "**/*_test.py", "**/*_test.go",
    "**/*Test.java", "**/*Tests.java", "**/*.test.*", "**/*.spec.*",
)


def glob_regex(glob: str) -> str:
    """A path glob as an anchored regular expression: `**` crosses folders, `*` and `?` do not.

    `services/payments/**` matches every file below that folder; a pattern
    without a folder part (`*.py`) matches the file name in any folder.
    """
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    body = "".join(out)
    return f"^{body}$" if "/" in glob else f"^(?:.*/)?{body}$"


# --- Issue 18: the policy is checked by the rules that run it (docs/contract.md, Policy file) ---
# Deeper YAML than this is refused before it is composed (PyYAML composes recursively).
MAX_POLICY_DEPTH = 32
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveHours = Annotated[float, Field(gt=0)]


def re2_error(pattern: str) -> str | None:
    """Why DuckDB (RE2) refuses ``pattern``, or None: the models run the policy's patterns
    there, and RE2 lacks Python's lookarounds and backreferences."""
    with duckdb.connect() as con:
        try:
            con.execute("select regexp_matches('', ?)", [pattern]).fetchall()
        except duckdb.Error as exc:
            return str(exc).removeprefix("Invalid Input Error: ")
    return None


@functools.cache
def _iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_error(name: str) -> str | None:
    """Why ``name`` is not a time zone both the adapters (zoneinfo) and DuckDB (ICU) know, or
    None. `localtime` and file paths are not IANA names: they would depend on the machine."""
    with duckdb.connect() as con:
        in_duckdb = con.execute("select count(*) from pg_timezone_names() where name = ?", [name]).fetchone()[0]
    if name in _iana_zones() and in_duckdb:
        return None
    return f"unknown time zone {name!r}: not an IANA time zone name (use one such as 'Europe/Berlin')"


def _check_depth(text: str, path: Path) -> None:
    """Refuse nesting deeper than MAX_POLICY_DEPTH, naming the key where it happens. The
    scanner is iterative, so a 100k-deep document cannot exhaust the stack here."""
    depth = 0
    keys: list[str] = []
    after_key = False
    try:
        for token in yaml.scan(text):
            if isinstance(token, yaml.BlockMappingStartToken | yaml.BlockSequenceStartToken
                          | yaml.FlowMappingStartToken | yaml.FlowSequenceStartToken):
                depth += 1
                if depth > MAX_POLICY_DEPTH:
                    key = ".".join(keys[:depth - 1]) or "(top level)"
                    raise PolicyError(f"invalid policy {path}:\n  {key}: nested deeper than "
                                      f"{MAX_POLICY_DEPTH} levels")
            elif isinstance(token, yaml.BlockEndToken | yaml.FlowMappingEndToken | yaml.FlowSequenceEndToken):
                depth -= 1
            elif isinstance(token, yaml.ScalarToken) and after_key:
                keys[depth - 1:] = [token.value]
            after_key = isinstance(token, yaml.KeyToken)
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy {path} is not valid YAML: {exc}") from exc
# --- end issue 18 ---


class _Strict(BaseModel):
    # NaN and infinity pass every `ge`/`le` bound; no setting of the policy means them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Gate(_Strict):
    blocking_severities: list[Severity] = Field(default_factory=list)
    max_open: dict[Severity, NonNegativeInt] = Field(default_factory=dict)


class Waiver(_Strict):
    rule: str
    service: str
    release: str
    approver: str
    reason: str
    expires_at: datetime

    @field_validator("expires_at")
    @classmethod
    def _utc_when_naive(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class PriorityWeights(_Strict):
    severity: float = Field(0.40, ge=0, le=1)
    recurrence: float = Field(0.20, ge=0, le=1)
    users: float = Field(0.25, ge=0, le=1)
    no_workaround: float = Field(0.15, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> PriorityWeights:
        total = self.severity + self.recurrence + self.users + self.no_workaround
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"weights must sum to 1, they sum to {total:g}")
        return self


# --- issue 13: commit linkage (COMMIT_UNLINKED and `defectflow check-commits`) ---
NEVER_MATCHES = r"[^\s\S]"


class CommitRules(_Strict):
    """Which production commits COMMIT_UNLINKED and `check-commits` leave out (docs/contract.md section 2)."""

    ignore_merges: bool = True
    bots: list[str] = Field(default_factory=list)  # author-name globs, e.g. "*[bot]"

    @property
    def bot_pattern(self) -> str:
        """One regular expression matching an author any glob of `bots` matches: the warehouse
        and `check-commits` both bind this string, so a glob means the same to both."""
        return "|".join(f"(?:{glob_regex(glob)})" for glob in self.bots) or NEVER_MATCHES


def _default_gates() -> dict[str, Gate]:
    return {
        "staging": Gate(blocking_severities=["S1"]),
        "production": Gate(blocking_severities=["S1", "S2"]),
    }


SOURCES = ("canonical", "jira", "jira_csv", "github", "pagerduty", "gitlab", "junit", "coverage", "git",
           "opsgenie", "bugzilla")
Source = Literal[SOURCES]  # type: ignore[valid-type]


class SourceConnection(_Strict):
    """Where `defectflow pull` fetches a source (docs/contract.md "Pulling from the APIs")."""

    base_url: str = Field(pattern=r"^https?://")
    auth: Literal["bearer", "basic", "token"] = "bearer"
    token_env: str | None = None
    token_file: str | None = None
    email_env: str | None = None  # Jira Cloud's basic auth: the variable holding the account email
    query: str | None = None  # Jira: JQL
    project: str | None = None  # Jira project key, GitHub owner/repo, GitLab project id or group/project path
    page_size: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _one_token_place(self) -> SourceConnection:
        if (self.token_env is None) == (self.token_file is None):
            raise ValueError("give exactly one of token_env or token_file (the token itself never goes here)")
        return self


class SourceMapping(_Strict):
    """How one source's records map onto the canonical columns.

    `fields`: canonical column -> where the source keeps it, tried in order, the
    first non-empty value wins. A path is a dotted field name of the source
    record (for Jira: a key of the issue's `fields`, an id such as
    `customfield_10010`, or a display name from the response's `names`), or
    `label:<prefix>` for the first label starting with that prefix (prefix
    removed). Vocabularies listed here win over the global ones for this
    source only.
    """

    fields: dict[str, list[str]] = Field(default_factory=dict)
    default_environment: str | None = None
    environments: dict[Environment, list[str]] = Field(default_factory=dict)
    severities: dict[Severity, list[str]] = Field(default_factory=dict)
    statuses: dict[Literal[STATUSES], list[str]] = Field(default_factory=dict)  # type: ignore[valid-type]
    resolutions: dict[Literal[RESOLUTIONS], list[str]] = Field(default_factory=dict)  # type: ignore[valid-type]
    deployment_statuses: dict[Literal["succeeded", "failed", "rolled_back", "unfinished"], list[str]] = Field(
        default_factory=dict
    )
    connection: SourceConnection | None = None


# The shipped field mappings: the common fields of each tool. A user's
# `sources.<name>.fields.<column>` replaces the default for that column only.
SOURCE_DEFAULTS: dict[str, dict[str, object]] = {
    "jira": {
        "fields": {
            "service": ["Service", "project.key"],
            "component": ["components"],
            "team": ["Team", "label:team:"],
            "environment": ["environment", "label:env:", "label:environment:"],
            "severity": ["Severity", "priority", "label:severity:"],
            "found_in_release": ["versions"],
            "fixed_in_release": ["fixVersions"],
            "users_affected": ["Users affected"],
            "has_workaround": ["Workaround"],
            "segment": ["Segment", "label:segment:"],
            "deferral_rationale": ["Deferral rationale"],
            "rca_link": ["RCA link"],
            "stack_trace": ["Stack trace"],
        },
        "default_environment": "production",
        "resolutions": {"fixed": ["完成", "已完成", "已修复", "已解决", "Erledigt", "Behoben", "Terminé", "Corrigé",
                                  "Hecho", "Finalizado", "完了", "修正済み"]},
    },
    "jira_csv": {
        "fields": {
            "service": ["Custom field (Service)", "Project key", "Project name"],
            "component": ["Component/s"],
            "team": ["Team", "Custom field (Team)", "label:team:"],
            "environment": ["Environment", "Custom field (Environment)", "label:env:", "label:environment:"],
            "severity": ["Custom field (Severity)", "Priority", "label:severity:"],
            "found_in_release": ["Affects Version/s"],
            "fixed_in_release": ["Fix Version/s"],
            "assignee": ["Assignee"],
            "reporter": ["Reporter"],
            "users_affected": ["Custom field (Users affected)"],
            "has_workaround": ["Custom field (Workaround)"],
            "segment": ["Custom field (Segment)", "label:segment:"],
            "deferral_rationale": ["Custom field (Deferral rationale)"],
            "rca_link": ["Custom field (RCA link)"],
            "stack_trace": ["Custom field (Stack trace)"],
            "duplicate_of": ["Outward issue link (Duplicate)"],
        },
        "default_environment": "production",
    },
    "github": {
        "fields": {
            "service": ["repository"],
            "severity": ["label:severity:", "label:priority:", "label:sev:"],
            "environment": ["label:env:", "label:environment:"],
            "type": ["label:type:", "label:kind:"],
            "component": ["label:component:", "label:area:"],
            "team": ["label:team:"],
            "found_in_release": ["label:version:", "label:affects:"],
            "fixed_in_release": ["milestone.title"],
            "assignee": ["assignee.login"],
            "reporter": ["user.login"],
        },
        "default_environment": "production",
    },
    # PagerDuty has no fields for these five: they travel as custom details of
    # the triggering event (Events API v2 `custom_details`), which the REST API
    # shows in the first trigger log entry's `channel.details`.
    "pagerduty": {
        "fields": {
            "service": ["service.summary"],
            "severity": ["priority.summary", "urgency"],
            "environment": ["first_trigger_log_entry.channel.details.environment"],
            "impact_started_at": ["first_trigger_log_entry.channel.details.impact_started_at"],
            "deployment_id": ["first_trigger_log_entry.channel.details.deployment_id"],
            "linked_defect_ids": ["first_trigger_log_entry.channel.details.linked_defect_ids"],
            "postmortem_link": ["first_trigger_log_entry.channel.details.postmortem_link"],
        },
        "default_environment": "production",
    },
    # `project`: the project (name, path_with_namespace) read from the job's
    # URL; the deployments API itself names the project by numeric id only.
    "gitlab": {
        "fields": {
            "service": ["project", "deployable.pipeline.project_id"],
            "environment": ["environment.name"],
            "release": ["ref"],
        },
        "deployment_statuses": {
            "succeeded": ["success"],
            "failed": ["failed", "canceled"],
            "unfinished": ["created", "running", "blocked", "skipped"],
        },
    },
    # JUnit: names of <property> elements (suite or case), compared case-insensitively.
    "junit": {
        "fields": {
            "environment": ["environment", "env"],
            "commit_sha": ["commit", "sha", "git_commit", "git.commit.id"],
        },
    },
    "coverage": {"fields": {}},
    "git": {"fields": {}},
    # Issue 15 (formats): Opsgenie keeps custom fields in `extraProperties`, and
    # teams often tag incidents `env:production`, `service:checkout`.
    "opsgenie": {
        "fields": {
            "service": ["extraProperties.service", "label:service:"],
            "severity": ["priority"],
            "environment": ["extraProperties.environment", "label:env:", "label:environment:"],
            "impact_started_at": ["impactStartDate"],
            "deployment_id": ["extraProperties.deployment_id"],
            "linked_defect_ids": ["extraProperties.linked_defect_ids"],
            "postmortem_link": ["extraProperties.postmortem_link"],
        },
        "default_environment": "production",
    },
    # Bugzilla: `product` is the service; `cf_last_resolved` is bugzilla.mozilla.org's
    # resolution time (other instances: map a field of theirs, or leave it empty).
    "bugzilla": {
        "fields": {
            "service": ["product"],
            "component": ["component"],
            "severity": ["severity", "priority"],
            "environment": ["label:env:"],
            "type": ["type"],
            "found_in_release": ["version"],
            "fixed_in_release": ["target_milestone"],
            "assignee": ["assigned_to"],
            "reporter": ["creator"],
            "resolved_at": ["cf_last_resolved"],
        },
        "default_environment": "production",
        # Bugzilla's other statuses, resolutions and severities match the global names
        # (case and punctuation aside: WONTFIX is "Won't Fix", WORKSFORME "Works for Me").
        "severities": {"S4": ["enhancement"]},
        "statuses": {"new": ["UNCONFIRMED"], "in_progress": ["ASSIGNED"]},
    },
    "canonical": {"fields": {}},
}


# --- Issue 13: the tracker (defects-from-tests, sync; docs/contract.md "Tracker") ---
class TrackerFields(_Strict):
    """Jira field ids (e.g. `customfield_10042`) the warehouse's computed fields are written to;
    a field left unset is not sent."""

    cluster_id: str | None = None
    duplicate_candidates: str | None = None
    priority_score: str | None = None
    sla_breached: str | None = None
    fingerprint: str | None = None


class Tracker(_Strict):
    project_key: str = Field("DEF", min_length=1)  # the Jira project new defect candidates go to
    issue_type: str = "Bug"
    labels: list[str] = Field(default_factory=lambda: ["defectflow", "ci-failure"])
    candidate_severity: Severity = "S3"  # a candidate's severity in defects.csv, until triage sets one
    excerpt_lines: int = Field(25, ge=1)  # lines of the masked log excerpt in a candidate
    auth_scheme: str = "Bearer"  # Authorization scheme for the token: Bearer (Jira DC PAT) or Basic (Jira Cloud)
    fields: TrackerFields = Field(default_factory=TrackerFields)
# --- end issue 13: tracker ---


# `defectflow notify` (issue 13): webhooks for high-severity defects in an active deployment stream.
class Webhook(_Strict):
    """One receiver of `defectflow notify` (docs/contract.md, notify). A Slack incoming
    webhook's URL is itself the secret: `url_env` names the variable holding it."""

    name: str = Field(min_length=1)
    url: str | None = None
    url_env: str | None = None
    format: Literal["slack", "json"]
    token_env: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> Webhook:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return self


class Notify(_Strict):
    severities: list[Severity] = Field(default_factory=lambda: ["S1", "S2"])
    webhooks: list[Webhook] = Field(default_factory=list)

    @field_validator("webhooks")
    @classmethod
    def _unique_names(cls, value: list[Webhook]) -> list[Webhook]:
        names = [hook.name for hook in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"webhook names must be unique (they key what was sent): {', '.join(twice)}")
        return value


class Policy(_Strict):
    default_timezone: str = "UTC"
    attribution_window_hours: float = Field(168, gt=0)
    escape_rate_rca_threshold: float = Field(0.15, ge=0, le=1)
    environments: dict[Environment, list[str]] = Field(default_factory=dict)
    severities: dict[Severity, list[str]] = Field(default_factory=dict)
    statuses: dict[Literal[STATUSES], list[str]] = Field(default_factory=dict)  # type: ignore[valid-type]
    resolutions: dict[Literal[RESOLUTIONS], list[str]] = Field(default_factory=dict)  # type: ignore[valid-type]
    unmapped_severity: Severity = "S3"
    default_environment: dict[Literal["defects", "incidents"], str] = Field(
        default_factory=lambda: {"defects": "unknown", "incidents": "production"}
    )
    sla_hours: dict[Severity, PositiveHours] = Field(
        default_factory=lambda: {"S1": 24, "S2": 72, "S3": 336, "S4": 720}
    )
    gates: dict[Environment, Gate] = Field(default_factory=_default_gates)
    freeze_intake: bool = True
    freeze_bar: list[Severity] = Field(default_factory=lambda: ["S3", "S4"])
    gate_max_age_hours: float = Field(168, gt=0)
    waivers: list[Waiver] = Field(default_factory=list)
    priority_weights: PriorityWeights = Field(default_factory=PriorityWeights)
    duplicate_threshold: float = Field(0.75, ge=0, le=1)
    candidates_per_defect: int = Field(10, ge=1)
    production_branches: list[str] = Field(default_factory=lambda: ["main", "master"])
    defect_key_pattern: str = r"[A-Z][A-Z0-9]+-[0-9]+"
    commits: CommitRules = Field(default_factory=CommitRules)
    triage_hours: float = Field(48, gt=0)
    postmortem_severities: list[Severity] = Field(default_factory=lambda: ["S1", "S2"])
    coverage_gap_threshold: float = Field(0.8, ge=0, le=1)
    version_skew_releases: int = Field(1, ge=0)
    components: dict[str, list[str]] = Field(default_factory=dict)
    coverage_exclude: list[str] = Field(default_factory=lambda: list(DEFAULT_COVERAGE_EXCLUDE))
    # Jira's own status category keys, the fallback for localised status names.
    status_categories: dict[Literal[STATUSES], list[str]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: {"new": ["new"], "in_progress": ["indeterminate"], "resolved": ["done"]}
    )
    sources: dict[Source, SourceMapping] = Field(default_factory=dict)  # type: ignore[valid-type]
    tracker: Tracker = Field(default_factory=Tracker)  # issue 13: defects-from-tests, sync
    notify: Notify = Field(default_factory=Notify)

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        error = zone_error(value)
        if error:
            raise ValueError(error)
        return value

    @field_validator("defect_key_pattern")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        error = re2_error(value)
        if error:
            raise ValueError(f"not a regular expression DuckDB (RE2 syntax) accepts: {error}")
        return value

    @model_validator(mode="after")
    def _no_ambiguous_names(self) -> Policy:
        for name in ("environments", "severities", "statuses", "resolutions"):
            seen: dict[str, str] = {}
            for canonical, raws in getattr(self, name).items():
                for raw in [canonical, *raws]:
                    key = match_key(raw)
                    if key in seen and seen[key] != canonical:
                        raise ValueError(
                            f"{name}: {raw!r} is listed under both {seen[key]!r} and {canonical!r}"
                        )
                    seen[key] = canonical
        return self

    def source(self, name: str) -> SourceMapping:
        """The mapping for one source: the shipped defaults, overridden key by key."""
        base = SourceMapping.model_validate(SOURCE_DEFAULTS.get(name, {}))
        own = self.sources.get(name)
        if own is None:
            return base
        merged = base.model_dump()
        for key, value in own.model_dump(exclude_unset=True).items():
            merged[key] = {**merged[key], **value} if key == "fields" else value
        return SourceMapping.model_validate(merged)

    def vocabulary_names(self) -> list[tuple[str, str, str]]:
        """(vocabulary, name, canonical) for every listed name, canonical names included.

        Names, not match keys: the warehouse computes the key with the same SQL
        it applies to the raw values, so both sides normalise identically.
        """
        vocabularies = {
            "environment": (ENVIRONMENTS, self.environments),
            "severity": (SEVERITIES, self.severities),
            "status": (STATUSES, self.statuses),
            "resolution": (RESOLUTIONS, self.resolutions),
        }
        rows = set()
        for vocabulary, (canonicals, mapping) in vocabularies.items():
            rows.update((vocabulary, canonical, canonical) for canonical in canonicals)
            for canonical, names in mapping.items():
                rows.update((vocabulary, name, canonical) for name in names)
        return sorted(rows)

    def vocabulary_rows(self) -> list[tuple[str, str, str, str]]:
        """(source, vocabulary, name, canonical): the global names under source `*`, then each
        source's own names, which win for that source."""
        rows = {("*", voc, name, canonical) for voc, name, canonical in self.vocabulary_names()}
        rows.update(("*", "status_category", name, canonical)
                    for canonical, names in self.status_categories.items() for name in names)
        for source in SOURCES:
            mapping = self.source(source)
            for vocabulary, names_by_canonical in (
                ("environment", mapping.environments), ("severity", mapping.severities),
                ("status", mapping.statuses), ("resolution", mapping.resolutions),
            ):
                rows.update((source, vocabulary, name, canonical)
                            for canonical, names in names_by_canonical.items() for name in names)
        return sorted(rows)


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = [f"invalid policy {path}:"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        reason = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            reason = "unknown key (check the spelling against the shipped policy.yml)"
        lines.append(f"  {key}: {reason}")
    return "\n".join(lines)


def load_policy(path: Path | str | None = None) -> Policy:
    """Read and validate a policy file; raise PolicyError naming the key path and reason."""
    path = Path(path) if path else SHIPPED_POLICY
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy {path}: {exc.strerror or exc}") from exc
    _check_depth(text, path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy {path} is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(f"policy {path} must be a mapping of keys to values, got {type(data).__name__}")
    if path.resolve() != SHIPPED_POLICY:
        # A key the file leaves out keeps the shipped value (vocabularies included),
        # so a policy can hold only what a team changes.
        shipped = yaml.safe_load(SHIPPED_POLICY.read_text(encoding="utf-8")) or {}
        data = {**shipped, **data}
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_format_errors(path, exc)) from None
