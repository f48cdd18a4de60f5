"""Duplicates benchmark: recall on a labelled tracker export, and time and memory at scale.

    python benchmarks/duplicates.py [--samples DIR]           # Hadoop sample: recall, threshold figures
    python benchmarks/duplicates.py --scale 100000 1000000    # synthetic defects: time, peak memory

Sample mode ingests `jira/hadoop_bugs.csv` alone (the labelled pairs in
`jira/hadoop_duplicates.csv` are ground truth, never loaded), builds the
duplicate marts, and measures recall@1/5/10 of `marts.duplicate_candidates`
beside the plain TF-IDF baseline computed in the same run, then what the
policy's duplicate_threshold gives. Scale mode generates N synthetic defects
(canonical CSVs, seed 42; kept in the work folder for reruns), builds
everything upstream, then times `dbt run` of the candidate and cluster models
alone and reports the peak memory of that process (DuckDB's memory_limit set
by --memory-limit; it spills to disk beyond). Each mode rewrites its own
section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from results_file import RESULTS, write_section

from pipelines.defs.ingest.loader import load_exports
from pipelines.duplicates.evaluation import (
    KS,
    baseline_candidates,
    build_sample_warehouse,
    labelled_duplicates,
    mart_candidates,
    recall_at,
    run_dbt,
    threshold_figures,
)
from pipelines.policy import load_policy
from pipelines.synthetic import generate
from pipelines.warehouse import connect

DEFAULT_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
DEFECTS_PER_SCALE = 300  # generate(scale=1) writes 300 defects
SCALE_AS_OF = datetime(2026, 6, 30, tzinfo=UTC)  # the synthetic timeline's end, as in benchmarks/marts.py
TIMED_MODELS = ("int_defect_duplicate_features int_defect_pair_scores int_defect_candidate_pairs duplicate_candidates "
                "int_defect_cluster_components int_defect_link_clusters defect_clusters")
def sample(samples: Path, workdir: Path) -> str:
    started = time.perf_counter()
    warehouse = build_sample_warehouse(samples / "jira" / "hadoop_bugs.csv", workdir / "hadoop")
    duplicates = labelled_duplicates(samples / "jira" / "hadoop_duplicates.csv")
    with connect(warehouse, read_only=True) as con:
        ours, baseline = mart_candidates(con), baseline_candidates(con)
        figures = threshold_figures(con, duplicates)
    policy = load_policy()
    rows = [f"| {name} | " + " | ".join(f"{recall_at(ranked, duplicates, k):.2f}" for k in KS) + " |"
            for name, ranked in (("`marts.duplicate_candidates`", ours), ("plain TF-IDF baseline", baseline))]
    return f"""## Hadoop sample: recall

`jira/hadoop_bugs.csv` ({figures.defects:,} issues) loaded through the normal ingest without the
duplicates file; ground truth `jira/hadoop_duplicates.csv`: {len(duplicates)} labelled issues,
{figures.labelled_pairs} distinct labelled pairs. recall@k = share of labelled issues with at least one
labelled duplicate among their first k candidates. Baseline: TF-IDF of title twice + first 2,000
characters of the description (word uni+bigrams, sublinear tf, English stop words), cosine, same run,
same masked text. Build + evaluation: {time.perf_counter() - started:.0f} s.

| method | recall@1 | recall@5 | recall@10 |
|---|---|---|---|
{chr(10).join(rows)}

At the default `duplicate_threshold` ({policy.duplicate_threshold}):

| figure | value |
|---|---|
| candidate pairs at or above the threshold | {figures.pairs_above} ({figures.pairs_per_1000:.1f} per 1,000 defects) |
| labelled pairs found at the threshold | {figures.labelled_above} of {figures.labelled_pairs} \
({figures.labelled_share:.0%}) |
| similarity clusters (clusters with an above-threshold pair) | {figures.similarity_clusters} |

Labels are incomplete: the tracker links only the duplicates someone noticed, so pairs above the
threshold that no label names are not all false (several are near-identical reports filed days
apart), and precision against the labels understates the truth. The method's choices (word
unigrams with identifier parts, the typical-similarity correction, the time term) were compared on
this sample; the score's constants were set by reasoning (docs/metrics.md), not fitted to the labels.
"""


def _exports(workdir: Path, defects: int) -> Path:
    folder = workdir / f"exports-{defects}"
    if not (folder / "defects.csv").exists():
        print(f"generating {defects:,} defects into {folder} ...", flush=True)
        generate(folder, scale=defects / DEFECTS_PER_SCALE, seed=42)
    return folder


def scale(defects: int, workdir: Path, memory_limit: str) -> str:
    """One table row: time and peak memory of the candidate and cluster models at `defects` synthetic defects."""
    folder = _exports(workdir, defects)
    warehouse = workdir / f"w-{defects}.duckdb"
    with connect(warehouse) as con:
        load_exports(con, folder, load_policy(), SCALE_AS_OF)
    target = workdir / f"dbt-target-{defects}"
    # fct_defects (upstream of defect_clusters) reads the clusters through the priority score: a first run
    # builds everything (once per warehouse), the timed one rebuilds the candidate and cluster models alone.
    with connect(warehouse, read_only=True) as con:
        built = con.execute("select count(*) from information_schema.tables "
                            "where table_schema = 'marts' and table_name = 'defect_clusters'").fetchall()[0][0]
    if not built:
        print(f"{defects:,}: building the duplicate marts and everything upstream ...", flush=True)
        run_dbt(warehouse, target, ["--select", "+duplicate_candidates +defect_clusters"])
    print(f"{defects:,}: timing the candidate and cluster models ...", flush=True)
    started = time.perf_counter()
    peak = run_dbt(warehouse, target, ["--select", TIMED_MODELS], memory_limit)
    total = time.perf_counter() - started
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    models = ", ".join(f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.1f}" for r in results)
    with connect(warehouse, read_only=True) as con:
        [(n, pairs, above, rows, clusters)] = con.execute("""
            select (select count(*) from marts.defect_clusters),
                   count(*), count(*) filter (where above_threshold),
                   (select count(*) from marts.duplicate_candidates),
                   (select count(distinct cluster_id) from marts.defect_clusters where cluster_size > 1)
            from intermediate.int_defect_candidate_pairs""").fetchall()
    print(f"{defects:,}: {total:.1f} s, peak {peak:,} MiB ({models})", flush=True)
    return (f"| {n:,} | {total:.0f} s | {peak:,} MiB | {pairs:,} | {1000 * above / n:.0f} | {rows:,} | {clusters:,} "
            f"| {models} |")


def scale_section(rows: list[str], memory_limit: str) -> str:
    return f"""## Scale: candidates and clusters

Synthetic defects (`defectflow generate --canonical`, seed 42). Time = one `dbt run` of the
candidate and cluster models ({TIMED_MODELS.replace(" ", ", ")}), dbt start-up included, after a
first run that built them and everything upstream; peak = that process's peak resident memory, DuckDB `memory_limit`
{memory_limit} (DEFECTFLOW_MEMORY_LIMIT; it spills beyond). 2 cores.

| defects | time | peak memory | scored pairs | pairs above threshold per 1,000 | candidate rows | clusters of 2+ \
| seconds per model (dbt runs two at once) |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

The synthetic text is templated (a few dozen title and description patterns), so most of its
terms are in tens of thousands of reports: the search leaves those out and pairs reports by their
rarer terms and stack fingerprints, and many pairs reach the threshold (same stack, same service,
near-identical text).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES, help="the shared samples folder")
    parser.add_argument("--scale", type=int, nargs="+", metavar="DEFECTS", help="time N synthetic defects instead")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit for the timed run")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "defectflow-bench")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.scale:
        rows = [scale(n, args.workdir, args.memory_limit) for n in args.scale]
        write_section("scale", scale_section(rows, args.memory_limit))
    else:
        write_section("sample", sample(args.samples, args.workdir))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
