"""Synthetic exports: shape, determinism and the realism the metrics rely on."""

from __future__ import annotations

import pathlib

import pandas as pd
import pytest

from pipelines.synthetic import SAMPLE_AS_OF, generate, generate_vendor

HEADERS = {
    "defects.csv": [
        "defect_id", "title", "description", "severity", "status", "resolution", "type", "service",
        "component", "team", "assignee", "environment", "found_in_release", "fixed_in_release",
        "created_at", "resolved_at", "users_affected", "has_workaround", "stack_trace", "labels",
        "duplicate_of", "deferral_rationale", "rca_link", "segment", "url",
    ],
    "defect_status_history.csv": ["defect_id", "changed_at", "from_status", "to_status", "actor"],
    "deployments.csv": [
        "deployment_id", "service", "release", "environment", "segment", "started_at", "finished_at",
        "status", "commit_sha", "is_hotfix", "rollback_of",
    ],
    "incidents.csv": [
        "incident_id", "title", "severity", "service", "environment", "impact_started_at", "detected_at",
        "acknowledged_at", "resolved_at", "deployment_id", "linked_defect_ids", "postmortem_link",
    ],
    "releases.csv": ["service", "release", "code_freeze_at", "planned_release_at", "rca_link"],
    "commits.csv": ["sha", "branch", "committed_at", "author", "message", "files"],
}
# The shipped policy's defaults (docs/metrics.md "Settled details" 11), enough to read the raw values.
ENVIRONMENTS = {
    "prod": "production", "prd": "production", "live": "production", "production": "production",
    "stg": "staging", "stage": "staging", "preprod": "staging", "uat": "staging", "staging": "staging",
    "qa": "test", "test": "test", "dev": "dev", "development": "dev",
}
SEVERITIES = {
    "S1": ["Blocker", "Highest", "Critical", "P0", "P1", "Sev1", "SEV-1"],
    "S2": ["High", "Major", "P2", "Sev2"],
    "S3": ["Medium", "Normal", "P3", "Sev3"],
    "S4": ["Low", "Lowest", "Minor", "Trivial", "P4", "Sev4"],
}
SEVERITY_OF = {raw: canonical for canonical, names in SEVERITIES.items() for raw in names}
AS_OF = pd.Timestamp(SAMPLE_AS_OF)

Sample = tuple[pathlib.Path, dict[str, int]]  # (folder, row counts) of one scale-1 run


def _read(folder: pathlib.Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def _instants(text: pd.Series) -> pd.Series:
    """Parse mixed Z / offset / naive (= UTC) ISO-8601 text; empty -> NaT."""
    return pd.to_datetime(text.mask(text == ""), format="ISO8601", utc=True)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    out = tmp_path_factory.mktemp("scale1")
    return out, generate(out, scale=1.0, seed=42)


@pytest.fixture(scope="module")
def defects(sample: Sample) -> pd.DataFrame:
    frame = _read(sample[0], "defects.csv")
    frame["env"] = frame["environment"].map(ENVIRONMENTS).fillna("unknown")
    frame["created"] = _instants(frame["created_at"])
    frame["resolved"] = _instants(frame["resolved_at"])
    return frame


@pytest.fixture(scope="module")
def deployments(sample: Sample) -> pd.DataFrame:
    frame = _read(sample[0], "deployments.csv")
    frame["finished"] = _instants(frame["finished_at"])
    return frame


def test_headers_and_counts(sample: Sample) -> None:
    folder, counts = sample
    assert list(counts) == list(HEADERS)
    for name, header in HEADERS.items():
        frame = _read(folder, name)
        assert list(frame.columns) == header, name
        assert len(frame) == counts[name] > 0, name
    assert 250 <= counts["defects.csv"] <= 400
    assert 0.08 < counts["incidents.csv"] / counts["defects.csv"] < 0.17  # about one per eight


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: pathlib.Path, sample: Sample) -> None:
    first = sample[0]
    again, other = tmp_path / "again", tmp_path / "other"
    generate(again, scale=1.0, seed=42)
    generate(other, scale=1.0, seed=43)
    for name in HEADERS:
        assert (again / name).read_bytes() == (first / name).read_bytes(), name
    assert (other / "defects.csv").read_bytes() != (first / "defects.csv").read_bytes()


def test_rows_grow_linearly_with_scale(tmp_path: pathlib.Path, sample: Sample) -> None:
    single = sample[1]
    double = generate(tmp_path, scale=2.0, seed=42)
    for name in HEADERS:
        assert 1.7 <= double[name] / single[name] <= 2.3, (name, single[name], double[name])


def test_fractional_scale_still_has_a_service(tmp_path: pathlib.Path) -> None:
    counts = generate(tmp_path, scale=0.1, seed=7)
    assert counts["defects.csv"] == 30
    assert _read(tmp_path, "deployments.csv")["service"].nunique() == 1


def test_production_share_per_service_varies_within_range(defects: pd.DataFrame) -> None:
    kept = defects[defects["resolution"] != "Duplicate"]
    share = kept.groupby("service")["env"].apply(lambda env: (env == "production").mean())
    assert len(share) == 6
    assert share.between(0.05, 0.25).all(), share.to_dict()
    assert share.max() - share.min() > 0.1, share.to_dict()  # one service clearly worse
    assert 0.05 < (kept["env"] == "production").mean() < 0.25


def test_raw_vocabularies_are_mixed(defects: pd.DataFrame, sample: Sample) -> None:
    envs = set(defects["environment"])
    assert {"prod", "stg", "qa", "production"} <= envs
    assert "" in envs  # a few defects name no environment
    # Each team writes severity in its own tracker's words.
    expected = {"Blocker", "Major", "Minor", "Trivial", "P1", "P3", "Sev2", "SEV-1", "High", "Low"}
    assert expected <= set(defects["severity"])
    unknown = defects.loc[~defects["severity"].isin(SEVERITY_OF), "severity"]
    assert 0 < len(unknown) <= 0.03 * len(defects)
    assert {"Open", "To Do", "In Progress", "Resolved", "Closed", "Done", "Deferred"} <= set(defects["status"])
    assert {"Fixed", "Done", "Duplicate", "Won't Fix", "Cannot Reproduce", ""} <= set(defects["resolution"])
    incidents = _read(sample[0], "incidents.csv")
    assert {"production", ""} <= set(incidents["environment"])


def test_severity_skew(defects: pd.DataFrame) -> None:
    canonical = defects["severity"].map(SEVERITY_OF).fillna("S3")  # the policy's default for unknown names
    share = canonical.value_counts(normalize=True)
    assert share["S1"] < share["S4"] < share["S3"]
    assert 0.02 < share["S1"] < 0.10 and 0.40 < share["S3"] < 0.62


def test_duplicates_point_to_earlier_defects_with_the_same_stack(defects: pd.DataFrame) -> None:
    dups = defects[defects["duplicate_of"] != ""]
    assert 0.05 < len(dups) / len(defects) < 0.11
    assert (dups["resolution"] == "Duplicate").all()
    originals = defects.set_index("defect_id").loc[dups["duplicate_of"]]
    assert (originals["created"].to_numpy() < dups["created"].to_numpy()).all()
    assert (originals["resolution"] != "Duplicate").all()
    same_stack = originals["stack_trace"].str.replace(r"\d+", "#", regex=True).to_numpy() == dups[
        "stack_trace"
    ].str.replace(r"\d+", "#", regex=True).to_numpy()
    assert same_stack.all()
    assert (originals["stack_trace"].to_numpy() != dups["stack_trace"].to_numpy()).all()  # other line numbers
    assert dups["stack_trace"].str.contains("\n").all()


def test_release_attribution_cases(defects: pd.DataFrame, deployments: pd.DataFrame) -> None:
    counted = defects[defects["created"] <= AS_OF]
    assert 0.12 < (counted["found_in_release"] == "").mean() < 0.30
    served = deployments[deployments["status"] != "failed"]
    environment = served["environment"]
    first = served.groupby(["service", "release", environment])["finished"].min()
    named = counted[(counted["found_in_release"] != "") & (counted["env"] != "unknown")]
    reached = first.reindex(list(zip(named["service"], named["found_in_release"], named["env"]))).to_numpy()
    detect_hours = (named["created"].to_numpy() - reached) / pd.Timedelta(hours=1)
    assert not pd.isna(detect_hours).any()  # every named release reached the defect's environment
    negative = (detect_hours < 0).mean()
    assert 0 < negative < 0.03  # a data-quality case, not the norm


def test_incidents_reference_real_deployments_and_defects(
    sample: Sample, defects: pd.DataFrame, deployments: pd.DataFrame
) -> None:
    incidents = _read(sample[0], "incidents.csv")
    named = incidents.loc[incidents["deployment_id"] != "", "deployment_id"]
    assert named.isin(deployments["deployment_id"]).all()
    assert 0.55 < len(named) / len(incidents) < 0.9
    caused = deployments.set_index("deployment_id").loc[named]
    assert (caused["environment"] == "production").all()
    assert "rolled_back" in set(caused["status"])
    linked = incidents.loc[incidents["linked_defect_ids"] != "", "linked_defect_ids"].str.split(";").explode()
    assert 0.15 < (incidents["linked_defect_ids"] != "").mean() < 0.45
    assert (defects.set_index("defect_id").loc[linked, "env"] == "production").all()
    impact, detected = _instants(incidents["impact_started_at"]), _instants(incidents["detected_at"])
    assert ((impact < detected) | impact.isna()).all()
    assert (_instants(incidents["acknowledged_at"]) > detected).all()
    assert (incidents["resolved_at"] == "").any() and impact.isna().any()  # some still open, some without impact


def test_releases_in_the_fixed_window(sample: Sample) -> None:
    releases = _read(sample[0], "releases.csv")
    planned, freeze = _instants(releases["planned_release_at"]), _instants(releases["code_freeze_at"])
    assert planned.min() >= pd.Timestamp("2026-01-05T00:00:00Z")
    assert planned.max() < pd.Timestamp("2026-06-29T00:00:00Z")
    freeze_days = (planned - freeze) / pd.Timedelta(days=1)
    assert freeze_days.between(2, 4).all()
    assert releases["release"].str.fullmatch(r"\d+\.\d+\.0").all()
    assert releases["release"].str.contains(r"\.1\d\.0$").any()  # minor numbers cross 9 -> 10
    assert releases.groupby("service").size().between(8, 27).all()  # one every 1-3 weeks
    assert releases["rca_link"].str.startswith("https://wiki.example.com/rca/").sum() >= 2


def test_deployments_flow_and_roll_back(deployments: pd.DataFrame) -> None:
    assert deployments["deployment_id"].is_unique
    assert set(deployments["status"]) == {"succeeded", "failed", "rolled_back"}
    assert {"canary", "full", "blue", "green"} <= set(deployments["segment"])
    assert deployments["commit_sha"].str.fullmatch(r"[0-9a-f]{40}").all()
    by_id = deployments.set_index("deployment_id")
    rollbacks = deployments[deployments["rollback_of"] != ""]
    target = by_id.loc[rollbacks["rollback_of"]]
    assert len(rollbacks) == (deployments["status"] == "rolled_back").sum()
    assert (target["status"] == "rolled_back").all()
    assert (rollbacks["finished"].to_numpy() > target["finished"].to_numpy()).all()
    assert (rollbacks["release"].to_numpy() != target["release"].to_numpy()).all()
    assert deployments.loc[deployments["is_hotfix"] == "true", "release"].str.endswith(".1").all()
    regular = deployments[deployments["is_hotfix"] == "false"]
    first = regular.groupby(["service", "release", "environment"])["finished"].min().unstack()
    in_order = (first["dev"] < first["test"]) & (first["test"] < first["staging"])
    assert (in_order & (first["staging"] < first["production"])).all()


def test_personal_data_for_masking(defects: pd.DataFrame) -> None:
    email = defects["description"].str.contains(r"[a-z]+\.[a-z]+@[a-z.]+\.(?:com|org)", regex=True)
    ip = defects["description"].str.contains(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", regex=True)
    assert 0.03 < email.mean() < 0.15
    assert ip.any()
    named = defects[defects["assignee"] != ""]
    mentions = [a in text for a, text in zip(named["assignee"], named["description"])]
    assert any(mentions)
    assert (defects["assignee"] == "").any()


def test_timestamp_forms_and_as_of(sample: Sample, defects: pd.DataFrame) -> None:
    texts = []
    for name in HEADERS:
        frame = _read(sample[0], name)
        for column in frame.columns:
            if column.endswith("_at"):
                texts.append(frame[column][frame[column] != ""])
    text = pd.concat(texts)
    offset = text.str.contains(r"[+-]\d\d:\d\d$")
    naive = ~text.str.endswith("Z") & ~offset
    assert 0.05 < offset.mean() < 0.15
    assert 0.01 < naive.mean() < 0.06
    assert text[naive].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    instants = _instants(text)
    after = instants > AS_OF
    assert 1 <= after.sum() <= 5
    late = defects[defects["created"] > AS_OF]
    assert after.sum() == len(late)  # only defects created just after the as-of
    assert (late["resolved_at"] == "").all()
    assert instants.min() >= pd.Timestamp("2026-01-05T00:00:00Z")


def test_status_history_agrees_with_defects(sample: Sample, defects: pd.DataFrame) -> None:
    history = _read(sample[0], "defect_status_history.csv")
    history["at"] = _instants(history["changed_at"])
    assert history.groupby("defect_id")["at"].apply(lambda s: s.is_monotonic_increasing).all()
    by_id = defects.set_index("defect_id")
    last = history.groupby("defect_id").tail(1).set_index("defect_id")
    assert (last["to_status"] == by_id.loc[last.index, "status"]).all()
    resolving = history[history["to_status"].isin(["Resolved", "Done"])].groupby("defect_id")["at"].max()
    assert (resolving == by_id.loc[resolving.index, "resolved"]).all()
    reopened = history[history["from_status"].isin(["Resolved", "Done"]) & (history["to_status"] != "Closed")]
    assert 0 < reopened["defect_id"].nunique() < 0.1 * len(defects)
    assert history["defect_id"].nunique() < len(defects)  # some defects have no history


def test_open_defects_of_all_ages(defects: pd.DataFrame) -> None:
    open_at_as_of = defects[(defects["created"] <= AS_OF) & defects["resolved"].isna()]
    age_days = (AS_OF - open_at_as_of["created"]).dt.days
    assert (age_days > 90).any() and (age_days <= 7).any()
    deferred = defects[defects["status"].isin(["Deferred", "On Hold"])]
    assert (deferred["deferral_rationale"] != "").any() and (deferred["deferral_rationale"] == "").any()


def test_commits_ship_deployments_and_name_defects(
    sample: Sample, defects: pd.DataFrame, deployments: pd.DataFrame
) -> None:
    commits = _read(sample[0], "commits.csv")
    assert commits["sha"].is_unique
    assert deployments["commit_sha"].isin(commits["sha"]).all()
    keys = commits["message"].str.extract(r"([A-Z][A-Z0-9]+-[0-9]+)")[0].dropna()
    assert len(keys) > 0.1 * len(commits)
    assert keys.isin(defects["defect_id"]).all()
    assert (commits["message"].str.contains(r"[A-Z][A-Z0-9]+-[0-9]+") == False).any()  # noqa: E712
    assert {"main"} < set(commits["branch"])
    assert commits["files"].str.startswith("services/").all()


def test_tests_per_file_sets_the_junit_volume(tmp_path: pathlib.Path) -> None:
    # Every source file gets exactly 10 tests, and each CI run covers each of its service's
    # source files once in Cobertura: a run's test cases are 10 x its coverage rows.
    written = generate_vendor(tmp_path, scale=1, seed=42, tests_per_file=(10, 10))
    for name, cases in written.items():
        if name.startswith("junit/"):
            assert cases == 10 * written[name.replace("junit/", "coverage/")], name
    assert sum(rows for name, rows in written.items() if name.startswith("coverage/")) == 32  # as the sample
    with pytest.raises(ValueError, match=r"50-101: expected 1 <= MIN <= MAX <= 100"):
        generate_vendor(tmp_path / "x", scale=1, tests_per_file=(50, 101))
    assert not (tmp_path / "x").exists()  # refused before writing anything
