"""Recall of duplicate candidates against labelled duplicate pairs, beside a plain TF-IDF baseline.

Used by benchmarks/duplicates.py and the recall-floor test. Labels are
incomplete (a tracker links only the duplicates someone noticed), so recall
is the measure; precision against labels would understate the truth.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from pipelines import pseudonyms
from pipelines.defs.ingest.loader import load_exports
from pipelines.policy import load_policy
from pipelines.warehouse import DBT_PROJECT_DIR, connect

KS = (1, 5, 10)
SAMPLE_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
DUPLICATE_MODELS = "+duplicate_candidates +defect_clusters"


@dataclass(frozen=True)
class ThresholdFigures:
    """What the policy threshold gives: pairs above it, the labelled pairs among them, similarity clusters."""

    defects: int
    pairs_above: int
    labelled_pairs: int
    labelled_above: int
    similarity_clusters: int

    @property
    def pairs_per_1000(self) -> float:
        return 1000 * self.pairs_above / self.defects

    @property
    def labelled_share(self) -> float:
        return self.labelled_above / self.labelled_pairs


def labelled_duplicates(path: Path) -> dict[str, set[str]]:
    """Each labelled issue's duplicates, both directions (a cell may hold several ids)."""
    duplicates: dict[str, set[str]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        next(rows)
        for issue, others in rows:
            for other in others.replace(",", " ").split():
                duplicates.setdefault(issue.strip(), set()).add(other)
                duplicates.setdefault(other, set()).add(issue.strip())
    return duplicates


def recall_at(ranked: dict[str, list[str]], duplicates: dict[str, set[str]], k: int) -> float:
    """Share of labelled issues with at least one labelled duplicate among their first k candidates."""
    return float(np.mean([bool(set(ranked.get(issue, [])[:k]) & others) for issue, others in duplicates.items()]))


def mart_candidates(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """marts.duplicate_candidates as each defect's candidate ids in rank order."""
    ranked: dict[str, list[str]] = {}
    rows = con.execute("select defect_id, candidate_id from marts.duplicate_candidates order by defect_id, rank")
    for defect_id, candidate_id in rows.fetchall():
        ranked.setdefault(defect_id, []).append(candidate_id)
    return ranked


def baseline_candidates(con: duckdb.DuckDBPyConnection, k: int = max(KS)) -> dict[str, list[str]]:
    """The plain baseline: TF-IDF of title twice + first 2,000 characters of the description (word uni- and
    bigrams, sublinear tf, English stop words), cosine, over the same masked text; ties to the smaller id."""
    rows = con.execute("select defect_id, coalesce(title, ''), coalesce(description, '') "
                       "from intermediate.int_defects order by defect_id").fetchall()
    ids = [r[0] for r in rows]
    vectors = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english").fit_transform(
        [f"{title} {title} {description[:2000]}" for _, title, description in rows])
    similarity = (vectors @ vectors.T).toarray()
    np.fill_diagonal(similarity, -1.0)
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return {ids[i]: [ids[j] for j in order[i]] for i in range(len(ids))}


def threshold_figures(con: duckdb.DuckDBPyConnection, duplicates: dict[str, set[str]]) -> ThresholdFigures:
    above = {tuple(p) for p in con.execute(
        "select defect_id, candidate_id from intermediate.int_defect_candidate_pairs where above_threshold").fetchall()}
    labelled = {tuple(sorted((a, b))) for a, others in duplicates.items() for b in others}
    [(defects, clusters)] = con.execute(
        "select count(*), count(distinct cluster_id) filter (where cluster_method like '%similarity%') "
        "from marts.defect_clusters").fetchall()
    return ThresholdFigures(defects=defects, pairs_above=len(above), labelled_pairs=len(labelled),
                            labelled_above=len(labelled & above), similarity_clusters=clusters)


def run_dbt(warehouse: Path, target: Path, arguments: Iterable[str], memory_limit: str | None = None) -> int:
    """`dbt run` on the warehouse in a child process; returns the child's peak resident memory in MiB."""
    dbt = str(Path(sys.executable).parent / "dbt")
    env = {**os.environ, "DEFECTFLOW_WAREHOUSE": str(warehouse), **pseudonyms.dbt_environment()}
    if memory_limit:
        env["DEFECTFLOW_MEMORY_LIMIT"] = memory_limit
    # A wrapper process, so the peak is this run's alone (RUSAGE_CHILDREN keeps the largest child ever waited for).
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    command = [sys.executable, "-c", probe, dbt, "run", "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target),
               "--quiet", *arguments]
    out = subprocess.run(command, check=True, env=env, capture_output=True, text=True).stdout
    return int(out.split()[-1]) // 1024


def build_sample_warehouse(bugs_csv: Path, workdir: Path) -> Path:
    """A warehouse of the tracker export alone (no duplicates file), ingested as usual, duplicate marts built."""
    exports = workdir / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    shutil.copy(bugs_csv, exports / bugs_csv.name)
    warehouse = workdir / "sample.duckdb"
    warehouse.unlink(missing_ok=True)
    with connect(warehouse) as con:
        load_exports(con, exports, load_policy(), SAMPLE_AS_OF)
    run_dbt(warehouse, workdir / "dbt-target", ["--select", DUPLICATE_MODELS])
    return warehouse
