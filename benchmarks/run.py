"""Build benchmark: the real `defectflow build` at several scales, stage by stage, beside the floor.

    python benchmarks/run.py --scales 10000,100000,1000000 [--workdir DIR]

Per scale (defects):
1. `defectflow generate` writes vendor-format exports (cached in the work folder),
   with the benchmark's test volume (`--tests-per-file 44-88`: about 5M JUnit test
   cases per 1M defects).
2. The floor: DuckDB reading every export file once (CSV parsed as text, every
   other file's bytes read).
3. A full build into a new warehouse: `defectflow build` as a user runs it, with
   `DEFECTFLOW_PROFILE` set, so every stage of the build (pipelines/progress.py)
   records its wall time, CPU time and peak memory; and the whole command's.
4. The weekly increment: 1% of the defects changed and 1% new (a further Jira page),
   1% more deployments, then `defectflow build` again on the same warehouse.

Writes benchmarks/results.json (every figure), the `build` section of
benchmarks/RESULTS.md (a table per scale, ratio to the floor, growth between the
two largest scales, the machine) and benchmarks/results.html (time against scale
per stage, self-contained).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psutil
from results_file import write_section

from pipelines import progress
from pipelines.synthetic.formats import jira, pagerduty

HERE = Path(__file__).resolve().parent
DEFECTS_PER_SCALE = 300  # `defectflow generate --scale 1` writes 300 defects
TESTS_PER_FILE = "44-88"
AS_OF = "2026-06-30"
DELTA_SHARE = 0.01
JIRA_KEY_OFFSET = 10_000_000  # new issues' numbers: far above any generated key
# What the cached exports were generated with: other exports are generated again.
GENERATED_WITH = f"--tests-per-file {TESTS_PER_FILE}; pages of {jira.PAGE_SIZE} issues, {pagerduty.PAGE_SIZE} incidents"
WHOLE_COMMANDS = ("full_build", "incremental_build")
ENGINE = "duckdb"  # --engine  # recorded by this script around `defectflow build`


@dataclass
class Stage:
    scale: int
    stage: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    runs: int = 1


def _defectflow() -> str:
    beside = Path(sys.executable).parent / "defectflow"
    return str(beside) if beside.exists() else "defectflow"


def exports(workdir: Path, defects: int) -> Path:
    """The generated exports for `defects` (kept for reruns: a marker says they are complete)."""
    folder = workdir / f"exports-{defects}"
    marker = workdir / f"exports-{defects}.done"
    if not marker.exists() or marker.read_text() != GENERATED_WITH:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"[{defects:,}] generating exports ...", flush=True)
        subprocess.run([_defectflow(), "generate", "--out", str(folder), "--scale", str(defects / DEFECTS_PER_SCALE),
                        "--tests-per-file", TESTS_PER_FILE], check=True, stdout=subprocess.DEVNULL)
        marker.write_text(GENERATED_WITH)
    return folder


def read_floor(folder: Path) -> None:
    """DuckDB reading every export once: CSVs parsed as text, other files' bytes."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    csvs = [str(p) for p in files if p.suffix == ".csv"]
    others = [str(p) for p in files if p.suffix != ".csv"]
    with progress.stage("floor"), duckdb.connect() as con:
        for path in csvs:
            con.execute("select count(*) from read_csv(?, all_varchar = true)", [path]).fetchall()
        if others:
            con.execute("select sum(octet_length(content)) from read_blob(?)", [others]).fetchall()


def build(folder: Path, warehouse: Path, reports: Path, name: str) -> list[str]:
    """`defectflow build` as a user runs it; returns what it printed (stdout and stderr)."""
    with progress.stage(name):
        proc = subprocess.run(
            [_defectflow(), "build", "--exports", str(folder), "--warehouse", str(warehouse),
             "--reports", str(reports), "--as-of", AS_OF, "--engine", ENGINE],
            capture_output=True, text=True,
        )
    printed = (proc.stderr + proc.stdout).splitlines()
    warehouse.with_name(f"{name}.console.txt").write_text("\n".join(printed) + "\n", encoding="utf-8")
    if proc.returncode not in (0, 3):
        sys.exit(f"{name} of {folder} failed (exit {proc.returncode}):\n" + "\n".join(printed[-40:]))
    return printed


def add_weekly_delta(folder: Path) -> None:
    """1% of the Jira issues changed (a later status change), 1% new, as a further Jira page;
    1% more deployments in the re-exported CSV (a new file, so the cached exports stay as they were)."""
    step = max(1, round(1 / DELTA_SHARE))
    changed: list[dict] = []
    new: list[dict] = []
    seen = 0  # issues on the pages before: every step-th issue of the whole search
    for page in sorted((folder / "jira").glob("issues*.json")):
        export = json.loads(page.read_text(encoding="utf-8"))
        issues = export["issues"]
        changed += [_changed(issue) for issue in issues[-seen % step::step]]
        new += [_renumbered(issue) for issue in issues[(step // 2 - seen) % step::step]]
        seen += len(issues)
    delta = {**export, "startAt": 0, "total": len(changed) + len(new), "maxResults": len(changed) + len(new),
             "issues": changed + new}
    (folder / "jira" / "weekly-delta.json").write_text(json.dumps(delta), encoding="utf-8")

    deployments = folder / "deployments.csv"
    lines = deployments.read_text(encoding="utf-8").splitlines(keepends=True)
    extra = [line.replace(line.split(",", 1)[0], line.split(",", 1)[0] + "-wk", 1) for line in lines[1::step]]
    rewritten = deployments.with_name(".deployments.csv.new")
    rewritten.write_text("".join(lines + extra), encoding="utf-8")
    os.replace(rewritten, deployments)  # replaces the hard link, not the cached file


def _changed(issue: dict) -> dict:
    fields = {**issue["fields"], "summary": issue["fields"]["summary"] + " (reworded)",
              "updated": "2026-06-29T12:00:00.000+0000"}
    return {**issue, "fields": fields}


def _renumbered(issue: dict) -> dict:
    project, number = issue["key"].rsplit("-", 1)
    return {**issue, "key": f"{project}-{int(number) + JIRA_KEY_OFFSET}", "id": str(int(issue["id"]) + JIRA_KEY_OFFSET),
            "fields": {**issue["fields"], "issuelinks": []}}


def collect(profile: Path, scale: int, prefix: str = "") -> list[Stage]:
    """The stage records of one build, repeated stages (a report per release, a check per
    raw table) summed: wall and CPU added up, the largest peak."""
    stages: dict[str, Stage] = {}
    for line in profile.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        name = record["stage"]
        if name.startswith("check gx_") and name != "check gx_deploy_recurrence_correlation":
            name = "checks gx (raw)"
        if name not in WHOLE_COMMANDS:
            name = prefix + name
        if name in stages:
            seen = stages[name]
            seen.wall_s += record["wall_s"]
            seen.cpu_s += record["cpu_s"]
            seen.peak_rss_mb = max(seen.peak_rss_mb, record["peak_rss_mb"])
            seen.runs += 1
        else:
            stages[name] = Stage(scale, name, record["wall_s"], record["cpu_s"], record["peak_rss_mb"])
    return list(stages.values())


def without_reports(stages: list[Stage], scale: int) -> Stage:
    """The full build less its reports (they run one after another at the end of the job)."""
    full = next(s for s in stages if s.stage == "full_build")
    reports = [s for s in stages if s.stage.startswith("report ")]
    others = [s for s in stages if not s.stage.startswith("report ") and s.stage != "full_build"]
    return Stage(scale, "build_excluding_reports", full.wall_s - sum(r.wall_s for r in reports),
                 full.cpu_s - sum(r.cpu_s for r in reports), max((s.peak_rss_mb for s in others), default=0))


def run_scale(workdir: Path, defects: int) -> tuple[list[Stage], str]:
    folder = exports(workdir, defects)
    building = workdir / f"build-{defects}"
    shutil.rmtree(building, ignore_errors=True)
    # Hard links: the build's folder is the user's, the weekly delta is added to it alone.
    shutil.copytree(folder, building / "exports", copy_function=os.link)
    profile = building / "profile.jsonl"
    os.environ[progress.PROFILE_ENV] = str(profile)
    read_floor(building / "exports")
    print(f"[{defects:,}] full build ...", flush=True)
    printed = build(building / "exports", building / "w.duckdb", building / "reports", "full_build")
    stages = collect(profile, defects)
    stages.append(without_reports(stages, defects))

    add_weekly_delta(building / "exports")
    incremental = building / "incremental.jsonl"
    os.environ[progress.PROFILE_ENV] = str(incremental)
    print(f"[{defects:,}] weekly incremental build ...", flush=True)
    build(building / "exports", building / "w.duckdb", building / "reports", "incremental_build")
    stages += collect(incremental, defects, prefix="incremental: ")
    # Other work on the machine inflates wall times: the reader sees how busy it was.
    load = os.getloadavg()[1]
    return stages, f"{len(printed)} console lines; load average {load:.1f} over the last 5 minutes"


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    return (f"{os.cpu_count()} cores ({model}), {psutil.virtual_memory().total / 2**30:.0f} GiB memory, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"DuckDB {duckdb.__version__}")


def markdown(stages: list[Stage], notes: dict[int, str]) -> str:
    scales = sorted({s.scale for s in stages})
    by = {(s.scale, s.stage): s for s in stages}
    engine = "" if ENGINE == "duckdb" else f" --engine {ENGINE}"
    out = [
        "## Build: stage by stage" + (f" (`--engine {ENGINE}`)" if engine else ""),
        "",
        "Written by `python benchmarks/run.py --scales " + ",".join(str(s) for s in scales) + engine + "`. Machine: "
        + machine() + ". Exports: `defectflow generate --tests-per-file " + TESTS_PER_FILE + "` (vendor formats). "
        "Stages as recorded by the build itself (pipelines/progress.py); peak = resident memory of the build "
        "process and its children (dbt, report kernels). `floor`: DuckDB reading every export once. "
        "`build_excluding_reports` = `full_build` less the reports' time. A stage run several times (a report per "
        "release, a check per raw table) shows the sum and the number of runs. The weekly increment: 1% of the "
        "defects changed and 1% new, 1% more deployments, on the same warehouse.",
    ]
    for scale in scales:
        floor = by[(scale, "floor")].wall_s
        out += ["", f"### {scale:,} defects ({notes[scale]})", "",
                "| stage | runs | wall s | CPU s | peak MiB | x floor |", "|---|---:|---:|---:|---:|---:|"]
        for s in (s for s in stages if s.scale == scale):
            ratio = f"{s.wall_s / floor:.1f}" if s.stage.startswith("ingest") and floor else ""
            out.append(f"| {s.stage} | {s.runs} | {s.wall_s:.1f} | {s.cpu_s:.1f} | {s.peak_rss_mb:,.0f} | {ratio} |")
    if len(scales) > 1:
        small, large = scales[-2], scales[-1]
        out += ["", f"### Growth {small:,} -> {large:,} defects ({large / small:.0f}x the data)", "",
                "| stage | wall growth |", "|---|---:|"]
        for s in (s for s in stages if s.scale == large):
            before = by.get((small, s.stage))
            if before and before.wall_s > 0:
                out.append(f"| {s.stage} | {s.wall_s / before.wall_s:.1f}x |")
    return "\n".join(out)


def plot(stages: list[Stage], path: Path) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    for name in dict.fromkeys(s.stage for s in stages):
        points = sorted((s.scale, s.wall_s) for s in stages if s.stage == name)
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], name=name,
                                 mode="lines+markers"))
    fig.update_layout(title="defectflow build: wall time per stage against scale", xaxis_title="defects",
                      yaxis_title="wall time (s)", xaxis_type="log", yaxis_type="log", height=700)
    fig.write_html(path, include_plotlyjs=True, full_html=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="10000,100000,1000000", help="defects per scale, comma-separated")
    parser.add_argument("--workdir", default="/tmp/defectflow-bench", help="exports and warehouses (kept)")
    parser.add_argument("--out", default=str(HERE), help="folder for results.json, results.html and RESULTS.md")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                        help="where the models run (`defectflow build --engine`); spark's results get a section "
                             "of their own in RESULTS.md")
    args = parser.parse_args()
    global ENGINE
    ENGINE = args.engine
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    stages: list[Stage] = []
    notes: dict[int, str] = {}
    for defects in sorted(int(s) for s in args.scales.split(",")):
        found, notes[defects] = run_scale(workdir, defects)
        stages += found
        full = next(s for s in found if s.stage == "full_build")
        print(f"[{defects:,}] full build {full.wall_s:.1f} s, peak {full.peak_rss_mb:,.0f} MiB", flush=True)
        write_results(stages, notes, Path(args.out))  # after every scale: a long run's figures survive a stop


def write_results(stages: list[Stage], notes: dict[int, str], out: Path) -> None:
    suffix = "" if ENGINE == "duckdb" else f"_{ENGINE}"
    (out / f"results{suffix}.json").write_text(json.dumps(
        [{k: v for k, v in vars(s).items() if k != "runs"} for s in stages], indent=1) + "\n", encoding="utf-8")
    plot(stages, out / f"results{suffix}.html")
    if out.resolve() == HERE:
        write_section("build" if ENGINE == "duckdb" else f"build_{ENGINE}", markdown(stages, notes))
    else:
        (out / "RESULTS.md").write_text(markdown(stages, notes) + "\n", encoding="utf-8")
    print(f"wrote {out / f'results{suffix}.json'}, {out / f'results{suffix}.html'} and RESULTS.md", flush=True)


if __name__ == "__main__":
    main()
