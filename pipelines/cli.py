"""`defectflow` command line: thin wrappers over the same job the Dagster UI runs."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines import console, progress
from pipelines.policy import SHIPPED_POLICY, PolicyError, load_policy
from pipelines.printable import printable
from pipelines.settings import DEFAULT_EXPORTS, DEFAULT_REPORTS, AsOfError, parse_as_of
from pipelines.warehouse import (
    DBT_PROJECT_DIR,
    DEFAULT_WAREHOUSE,
    PROJECT_ROOT,
    WAREHOUSE_ENV,
    WarehouseBusy,
    WarehouseDamaged,
    building_path,
    check_readable,
    environment_variable,
    recover,
    refuse_if_busy,
    warehouse_path,
)

log = logging.getLogger("defectflow")

SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
EXIT_OK, EXIT_FAILED, EXIT_REJECTED = 0, 2, 3
DISPLAY = console.ProgressDisplay()
LISTED_REPORTS = 12
PARTIAL_PARSE = "partial_parse.msgpack"  # dbt's parse state, what dagster-dbt copies for each dbt run


class BuildFailed(Exception):
    """The build could not finish; the message says which step and why."""


@dataclass
class BuildResult:
    warehouse: Path
    reports: list[Path]
    rejected_files: int
    quarantined_rows: int
    skipped_files: int = 0  # documentation, links out of the folder, special files: --strict fails on them too


def _setup_logging(verbose: bool) -> None:
    handler = console.DisplayHandler(DISPLAY)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
    # Dagster's per-event log lines would bury the progress; --verbose brings them back.
    logging.getLogger("dagster").setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("dagster.builtin").propagate = verbose


def _stage(number: int, total: int, text: str) -> None:
    log.info("[%d/%d] %s", number, total, text)


def parse_dbt_project(warehouse: Path | None = None) -> None:
    """Bring the dbt manifest the Dagster definitions are built from (never committed) up to date.

    Skipped while the project's files and the build path are those of the last parse, which
    it records beside the manifest. dbt parses as the build's own dbt runs will (the profile
    pointing at the build copy), so their parse is a partial one too. dbt writes its files in
    place: it parses into a scratch folder whose files then replace the project's by rename,
    so a build of another warehouse running meanwhile never reads a half-written manifest.
    """
    warehouse = warehouse or warehouse_path()
    key = _parse_key(warehouse)
    target = DBT_PROJECT_DIR / "target"
    stamp = target / ".defectflow-parse"
    if (target / "manifest.json").exists() and stamp.exists() and stamp.read_text() == key:
        return
    from dbt.cli.main import dbtRunner

    target.mkdir(exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix=".parse-", dir=target) as scratch,
        progress.stage("dbt parse"),
        environment_variable(WAREHOUSE_ENV, str(building_path(warehouse))),
    ):
        if (target / PARTIAL_PARSE).exists():
            shutil.copyfile(target / PARTIAL_PARSE, Path(scratch) / PARTIAL_PARSE)
        # Its log goes with the scratch folder: nothing grows in the installed project.
        result = dbtRunner().invoke(["parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
                                     "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", scratch,
                                     "--log-path", scratch])
        if not result.success:
            raise BuildFailed(f"dbt parse failed: {result.exception or 'see its errors above'}")
        for name in (PARTIAL_PARSE, "manifest.json"):
            os.replace(Path(scratch) / name, target / name)
    stamp.write_text(key)


def _parse_key(warehouse: Path) -> str:
    """What a parse depends on: every file of the project dbt reads, and the build copy's path."""
    digest = hashlib.sha256(str(building_path(warehouse)).encode())
    for path in sorted(DBT_PROJECT_DIR.rglob("*")):
        relative = path.relative_to(DBT_PROJECT_DIR)
        if path.is_file() and relative.parts[0] not in ("target", "logs") and not relative.name.startswith("."):
            digest.update(str(relative).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run_build(
    exports: Path,
    warehouse: Path,
    reports: Path,
    policy: Path | None,
    as_of_text: str | None,
    git_repo: Path | None = None,
    recover_damaged: bool = False,
    allow_empty: bool = False,
    engine: str = "duckdb",
) -> BuildResult:
    """Ingest, dbt build (models + tests), reports: the `weekly_build` job, in process.

    The job's `warehouse` resource builds into a copy of the warehouse that
    replaces it only when the run succeeds, so a failed or killed build leaves
    the previous warehouse as it was, and two builds never write one file at once.
    """
    policy_file = policy or SHIPPED_POLICY
    load_policy(policy_file)  # fail fast, before anything is written
    as_of = parse_as_of(as_of_text)
    if not exports.is_dir():
        raise BuildFailed(f"exports folder {exports} does not exist")
    if git_repo is not None and not git_repo.is_dir():
        raise BuildFailed(f"--git-repo {git_repo} is not a directory")
    if engine == "spark":
        from pipelines.spark_engine import SparkUnavailable, check_available

        try:
            check_available()
        except SparkUnavailable as missing:
            raise BuildFailed(str(missing)) from None
    warehouse = warehouse.resolve()
    _check_targets(warehouse, reports)
    try:
        refuse_if_busy(warehouse)
        if recover_damaged:
            log.info("%s", recover(warehouse))
        check_readable(warehouse)
    except (WarehouseBusy, WarehouseDamaged) as refused:
        raise BuildFailed(str(refused)) from None
    _stage(1, 4, "parsing the dbt project")
    parse_dbt_project(warehouse)
    build_log = warehouse.with_name(warehouse.name + ".build.log")
    summary, pages = _run_job(exports, warehouse, reports, policy_file, as_of, git_repo, build_log, allow_empty,
                              engine)
    _stage(4, 4, f"done: {warehouse}")
    return BuildResult(
        warehouse=warehouse,
        reports=pages,
        rejected_files=summary["rejected"],
        quarantined_rows=summary["quarantined"],
        skipped_files=summary["skipped"],
    )


def _check_targets(warehouse: Path, reports: Path) -> None:
    """Refuse, in one line and before anything is built, paths the build could not write."""
    if warehouse.is_dir():
        raise BuildFailed(f"--warehouse {warehouse} is a directory: name the warehouse file")
    # Checked on the nearest folder that exists: the reports folder is made only when a report is
    # written (a failed build leaves no trace there); the build log goes beside the warehouse from the start.
    for folder in (_nearest_existing(warehouse.parent), _nearest_existing(reports)):
        if not folder.is_dir():
            raise BuildFailed(f"{folder} is a file, not a folder: name another --warehouse or --reports")
        if not os.access(folder, os.W_OK | os.X_OK):
            why = "read-only file system" if os.statvfs(folder).f_flag & os.ST_RDONLY else "permission denied"
            raise BuildFailed(f"cannot write to {folder}: {why}")
    warehouse.parent.mkdir(parents=True, exist_ok=True)


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _run_job(exports: Path, warehouse: Path, reports: Path, policy_file: Path, as_of, git_repo: Path | None,
             build_log: Path, allow_empty: bool, engine: str = "duckdb") -> tuple[dict[str, int], list[Path]]:
    _stage(2, 4, f"building from {exports} (as of {as_of.isoformat()})")
    import dagster as dg

    from pipelines.definitions import defs

    job = defs.resolve_job_def("weekly_build")
    verbose = log.isEnabledFor(logging.DEBUG)  # --verbose
    run_config = {
        "resources": {
            "build": {
                "config": {
                    "exports_dir": str(exports.resolve()),
                    "policy_path": str(policy_file.resolve()),
                    "as_of": as_of.isoformat(),
                    "reports_dir": str(reports.resolve()),
                    "git_repo": str(git_repo.resolve()) if git_repo else "",
                    "allow_empty": allow_empty,
                    "engine": engine,
                }
            },
            "warehouse": {"config": {"path": str(warehouse)}},
        },
        # Progress goes through the `defectflow` logger; Dagster's own event log
        # would print a screen per step, and on a failure a line per skipped step
        # (the failure itself is reported below, checks with their offending rows).
        "loggers": {"console": {"config": {"log_level": "WARNING" if verbose else "CRITICAL"}}},
    }
    # dbt's own log (a line per model and test) goes to a file beside the
    # warehouse; the terminal gets one progress line per model. It is written
    # under a name of this process's own and takes the shared name afterwards,
    # so a build refused by the lock cannot clobber the running build's log.
    own_log = build_log.with_name(f".{build_log.name}.{os.getpid()}")
    _remove_dead_builds_logs(build_log)
    with (
        own_log.open("w", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
        dg.DagsterInstance.ephemeral() as instance,
        DISPLAY,
        progress.listening(DISPLAY),
    ):
        result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
    refused = ("WarehouseBusy", "WarehouseDamaged", "WarehouseUnwritable")
    busy = None if result.success else _resource_error(result, refused)
    if busy:
        own_log.unlink(missing_ok=True)
        raise BuildFailed(busy)
    os.replace(own_log, build_log)
    if not result.success:
        raise BuildFailed(_failure_message(result, build_log))
    # The swap happens as the run's warehouse resource closes, where Dagster logs an error
    # without failing the run.
    if unpublished := _resource_error(result, ("PublishFailed",)):
        raise BuildFailed(unpublished)

    _stage(3, 4, "load summary")
    lines, summary = console.load_summary(warehouse, verbose)
    print("\n".join(lines))
    print_check_warnings(result.get_asset_check_evaluations())
    return summary, _rendered_reports(result)


def _rendered_reports(result) -> list[Path]:
    """The index page, then every report it lists: what this run rendered, not whatever else
    the as-of folder holds."""
    from pipelines.defs.reports import INDEX_KEY

    for event in result.get_asset_materialization_events():
        if event.asset_key == INDEX_KEY:
            metadata = event.materialization.metadata
            return [Path(metadata["path"].value), *(Path(p) for p in metadata["reports"].value)]
    return []


def _remove_dead_builds_logs(build_log: Path) -> None:
    """A build killed with -9 cannot remove its own log: the next build removes those whose
    process is gone (a running build's stays)."""
    for log_file in build_log.parent.glob(f".{build_log.name}.*"):
        pid = log_file.name.rpartition(".")[2]
        if pid.isdigit() and not _process_alive(int(pid)):
            log_file.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _failure_message(result, build_log: Path) -> str:
    messages = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            if error and error.cls_name == "DagsterAssetCheckFailedError":
                continue  # the failed checks themselves are listed, with their details
            # Dagster wraps what the step raised ("Error occurred while executing op ...");
            # the user needs the innermost error, e.g. which report failed in which cell.
            while error is not None and error.cause is not None:
                error = error.cause
            detail = error.message.strip() if error else "unknown error"
            if "No space left on device" in detail:  # OSError and DuckDB's IO Error alike
                detail = (f"no space left on device: free space in {build_log.parent} (the build copy and "
                          f"dbt's files are written there) or name another --warehouse. {detail}")
            messages.append(f"step {event.step_key} failed: {detail}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                messages.append(_describe_check(evaluation))
    text = "\n".join(messages) or "the build failed (run with --verbose for Dagster's log)"
    return f"{text}\n(dbt's log: {build_log})"


def _resource_error(result, names: tuple[str, ...]) -> str | None:
    """The message of the first error of one of these classes the warehouse resource raised:
    refusing to start (another build holds the warehouse, or it cannot be read) or to publish."""
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        while error is not None:
            if error.cls_name in names:
                return error.message.strip().removeprefix(f"pipelines.warehouse.{error.cls_name}: ")
            error = error.cause
    return None


def _describe_check(evaluation) -> str:
    """A failed check: its name and asset, then the rules that failed with their offending
    rows when the check reports them (`failures` metadata: GX suites and dbt tests alike)."""
    import dagster as dg

    level = "warning" if evaluation.severity == dg.AssetCheckSeverity.WARN else "failed"
    line = f"check {evaluation.check_name} {level} on {evaluation.asset_key.to_user_string()}"
    failures = evaluation.metadata.get("failures")
    return line if failures is None else f"{line}\n{failures.value}"


def print_check_warnings(evaluations) -> None:
    """Checks that failed with severity WARN: reported here, the exit code unchanged."""
    import dagster as dg

    warnings = [e for e in evaluations if not e.passed and e.severity == dg.AssetCheckSeverity.WARN]
    if warnings:
        print("\nData-quality warnings")
        for evaluation in warnings:
            print("\n".join("  " + printable(line) for line in _describe_check(evaluation).split("\n")))


def _print_result(result: BuildResult) -> None:
    """The headline figures, the warehouse and the reports: the index page first, the rest
    up to `LISTED_REPORTS` (the index links them all)."""
    print("\n".join(console.headline(result.warehouse)))
    print(f"\nWarehouse: {result.warehouse}")
    for path in result.reports[:LISTED_REPORTS]:
        print(f"Report: {path}")
    if len(result.reports) > LISTED_REPORTS:
        print(f"... and {len(result.reports) - LISTED_REPORTS} more reports, linked from {result.reports[0].name}")


def _exit_code(result: BuildResult, strict: bool) -> int:
    if strict and (result.rejected_files or result.quarantined_rows or result.skipped_files):
        log.error("--strict: %d rejected files, %d quarantined rows, %d skipped files",
                  result.rejected_files, result.quarantined_rows, result.skipped_files)
        return EXIT_FAILED
    if result.rejected_files:
        log.warning("built with %d rejected file(s): see the load summary above", result.rejected_files)
        return EXIT_REJECTED
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    result = run_build(
        exports=Path(args.exports),
        warehouse=Path(args.warehouse),
        reports=Path(args.reports),
        policy=Path(args.policy) if args.policy else None,
        as_of_text=args.as_of,
        git_repo=Path(args.git_repo) if args.git_repo else None,
        recover_damaged=args.recover,
        allow_empty=args.allow_empty,
        engine=args.engine,
    )
    _print_result(result)
    return _exit_code(result, args.strict)


def cmd_pull(args: argparse.Namespace) -> int:
    from pipelines.connectors.base import ConnectorError
    from pipelines.connectors.pull import run_pull

    try:
        pulled = run_pull(load_policy(Path(args.policy) if args.policy else None), Path(args.exports),
                          Path(args.warehouse))
    except ConnectorError as exc:
        log.error("pull failed: %s", exc)
        return EXIT_FAILED
    if not pulled:
        log.info("no source has a connection in the policy: nothing to pull")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.synthetic import SAMPLE_AS_OF, generate_vendor

    sample = Path(args.sample)
    if not sample.is_dir() or not any(sample.iterdir()):
        log.info("sample data absent: generating it in %s", sample)
        generate_vendor(sample, scale=1, seed=42)
    result = run_build(
        exports=sample,
        warehouse=Path(args.warehouse),
        reports=Path(args.reports),
        policy=None,
        as_of_text=SAMPLE_AS_OF,
        engine=args.engine,
    )
    _print_result(result)
    return EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.synthetic import generate, generate_vendor

    started = time.perf_counter()
    kind = "canonical CSV" if args.canonical else "vendor-format"
    log.info("generating synthetic %s exports (scale %s, seed %s) into %s", kind, args.scale, args.seed, args.out)
    if args.canonical:
        counts = generate(Path(args.out), scale=args.scale, seed=args.seed)
    else:
        try:
            counts = generate_vendor(Path(args.out), scale=args.scale, seed=args.seed,
                                     tests_per_file=_range(args.tests_per_file))
        except ValueError as exc:
            raise BuildFailed(f"--tests-per-file: {exc}") from None
    # Per folder (junit/ holds a file per CI run): thousands of lines would say less.
    folders: dict[str, list[int]] = {}
    for name, rows in counts.items():
        folder = name.split("/", 1)[0] + ("/" if "/" in name else "")
        folders.setdefault(folder, []).append(rows)
    for folder, rows in sorted(folders.items()):
        print(f"  {folder:<24} {len(rows):>7,} file(s) {sum(rows):>12,} records")
    log.info("done in %.1f s", time.perf_counter() - started)
    return EXIT_OK


def _range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    if not (low.strip().isdigit() and (high if sep else low).strip().isdigit()):
        raise BuildFailed(f"--tests-per-file {text!r}: expected MIN-MAX, e.g. 4-8")
    return int(low), int(high if sep else low)


def cmd_gate(args: argparse.Namespace) -> int:
    from pipelines import gate

    policy = load_policy(Path(args.policy) if args.policy else None)
    return gate.run(Path(args.warehouse), args.service, args.release, args.environment, args.max_age,
                    policy.gate_max_age_hours, as_json=args.json)


def cmd_check_commits(args: argparse.Namespace) -> int:
    from pipelines.delivery import commits

    if not (args.range or args.branch):
        raise BuildFailed("check-commits needs --range A..B or --branch NAME")
    policy = load_policy(Path(args.policy) if args.policy else None)
    return commits.run(Path(args.git_repo), policy, args.range, args.branch, args.since)


def cmd_audit_package(args: argparse.Namespace) -> int:
    from pipelines.delivery import audit

    if args.verify:
        return audit.run_verify(Path(args.verify))
    if not (args.release and args.out):
        raise BuildFailed("audit-package needs --release R --out DIR (or --verify DIR)")
    return audit.run_write(Path(args.warehouse), args.release, args.service, Path(args.out))

def cmd_defects_from_tests(args: argparse.Namespace) -> int:
    from pipelines.delivery import defects_from_tests as dft

    run = dft.Run(args.environment, args.build_url, args.commit, args.service)
    return dft.run([Path(p) for p in args.junit], run, Path(args.warehouse), Path(args.out),
                   load_policy(Path(args.policy) if args.policy else None), args.post, args.token_env)


def cmd_sync(args: argparse.Namespace) -> int:
    from pipelines.delivery import sync

    return sync.run(Path(args.warehouse), load_policy(Path(args.policy) if args.policy else None),
                    sync.Scope(args.service, args.all), Path(args.out) if args.out else None, args.post,
                    args.token_env)


def cmd_notify(args: argparse.Namespace) -> int:
    from pipelines.delivery import notify

    policy = load_policy(Path(args.policy) if args.policy else None)
    return notify.run(Path(args.warehouse), policy.notify, dry=args.dry_run)


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.reporting import REPORTS, ReportParameterError, ReportRenderError, WarehouseError, render_report
    from pipelines.reporting.catalog import find

    given: dict[str, str] = {}
    for item in args.param or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BuildFailed(f"--param {item!r}: expected key=value")
        given[key.strip()] = value
    try:
        report = find(args.name, REPORTS)
        path = render_report(report, given, Path(args.warehouse).resolve(), Path(args.reports).resolve())
    except ReportParameterError as exc:
        raise BuildFailed(f"report {args.name}: {exc}") from exc
    except (ReportRenderError, WarehouseError) as exc:
        raise BuildFailed(str(exc)) from exc
    print(f"Report: {path}")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="defectflow",
        description="Release-quality metrics, release gates and reports from defect, deployment and incident exports.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="more log output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def verbose(p: argparse.ArgumentParser) -> None:
        # also after the command (`defectflow build --verbose`); SUPPRESS keeps a `-v` given before it
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="Dagster's log, and every file in the load summary")

    def warehouse_option(
        p: argparse.ArgumentParser,
        text: str = "DuckDB warehouse file (default: $DEFECTFLOW_WAREHOUSE or data/warehouse.duckdb)",
    ) -> None:
        p.add_argument("--warehouse", default=os.environ.get(WAREHOUSE_ENV) or str(DEFAULT_WAREHOUSE), help=text)

    def engine_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--engine", choices=("duckdb", "spark"), default=os.environ.get("DEFECTFLOW_ENGINE") or "duckdb",
                       help="where the dbt models run: duckdb (default) or spark (local PySpark; needs the "
                            "`spark` extra and Java 17; the marts still land in --warehouse). "
                            "Default: $DEFECTFLOW_ENGINE or duckdb")

    def warehouse_and_reports(p: argparse.ArgumentParser) -> None:
        warehouse_option(p)
        p.add_argument("--reports", default=str(DEFAULT_REPORTS),
                       help="folder for rendered reports, one subfolder per as-of date (default: reports/)")

    demo = sub.add_parser("demo", help="build the bundled sample exports and render the reports",
                          description="Build data/sample/ (generated if absent) as of the sample's as-of date, "
                                      "render the reports and print their paths.")
    demo.add_argument("--sample", default=str(SAMPLE_DIR), help="sample exports folder (default: data/sample/)")
    warehouse_and_reports(demo)
    engine_option(demo)
    verbose(demo)
    demo.set_defaults(func=cmd_demo)

    build = sub.add_parser("build", help="the weekly build: ingest, models, checks, reports",
                           description="Exit codes: 0 ok, 2 failed, 3 built with rejected files.")
    build.add_argument("--exports", default=str(DEFAULT_EXPORTS),
                       help="folder of export files (default: data/exports/)")
    warehouse_and_reports(build)
    engine_option(build)
    verbose(build)
    build.add_argument("--policy", help=f"policy YAML (default: the shipped {SHIPPED_POLICY.name})")
    build.add_argument("--as-of", help="as-of instant: a date (end of that day, UTC) or an ISO-8601 timestamp "
                                       "(UTC when it has no offset); default: now")
    build.add_argument("--git-repo", help="git repository to read commits (with changed files) from, in one pass")
    build.add_argument("--strict", action="store_true",
                       help="exit 2 on any rejected file, quarantined row or skipped file")
    build.add_argument("--recover", action="store_true",
                       help="an unreadable warehouse: restore <warehouse>.previous (or rebuild from the exports), "
                            "then build")
    build.add_argument("--allow-empty", action="store_true",
                       help="publish the build even when exports that held data gave no row (by default such a "
                            "build stops and the previous warehouse is kept)")
    build.set_defaults(func=cmd_build)

    pull = sub.add_parser("pull", help="fetch the connected sources' API pages into the exports folder",
                          description="Exit codes: 0 ok (or nothing connected), 2 a source failed.")
    pull.add_argument("--exports", default=str(DEFAULT_EXPORTS), help="folder of export files (default: data/exports/)")
    warehouse_option(pull, "warehouse the pull's cursors sit beside (default: as build's --warehouse)")
    pull.add_argument("--policy", help=f"policy YAML (default: the shipped {SHIPPED_POLICY.name})")
    verbose(pull)
    pull.set_defaults(func=cmd_pull)

    gate = sub.add_parser("gate", help="the release gate verdict for one release, from the warehouse",
                          description="Exit codes: 0 PASS, 1 HOLD, 2 error (missing warehouse, unknown service, "
                                      "release or environment, or a warehouse older than --max-age).")
    gate.add_argument("--service", required=True)
    gate.add_argument("--release", required=True)
    gate.add_argument("--environment", required=True, help="target environment (e.g. staging, production)")
    warehouse_option(gate)
    gate.add_argument("--max-age", type=float, metavar="HOURS",
                      help="fail (exit 2) when the warehouse's as-of is older than this")
    gate.add_argument("--policy", help="policy YAML, for gate_max_age_hours (default: the shipped policy.yml)")
    gate.add_argument("--json", action="store_true", help="print the verdict as JSON")
    gate.set_defaults(func=cmd_gate)

    commits = sub.add_parser("check-commits", help="production commits that name no defect key (COMMIT_UNLINKED)",
                             description="Exit codes: 0 every commit names a defect key (or is exempt), 1 some "
                                         "do not (listed), 2 error (not a git repository, bad range, policy).")
    commits.add_argument("--git-repo", default=".", help="the repository (default: the current folder)")
    commits.add_argument("--range", help="git revision range, e.g. origin/main..HEAD (or NEW --not --all)")
    commits.add_argument("--branch", help="the branch the range lands on (default: the branch its tip names); "
                                          "without --range, every commit reachable from it is checked")
    commits.add_argument("--since", help="only commits after this date (git's --since)")
    commits.add_argument("--policy", help="policy YAML (default: the shipped policy.yml)")
    commits.set_defaults(func=cmd_check_commits)

    package = sub.add_parser("audit-package", help="a release's defects, histories, gate decisions and load "
                                                   "reports with a SHA-256 manifest; or verify one",
                             description="Exit codes: 0 written / intact, 1 (--verify) files altered, missing "
                                         "or added (each named), 2 error (unknown release, no manifest, "
                                         "--out not empty).")
    package.add_argument("--release", help="the release to package")
    package.add_argument("--service", help="only this service's (default: every service with that release)")
    package.add_argument("--out", help="folder to write (absent or empty)")
    package.add_argument("--verify", metavar="DIR", help="check a package against its MANIFEST.sha256")
    warehouse_option(package)
    package.set_defaults(func=cmd_audit_package)

    def tracker_options(p: argparse.ArgumentParser) -> None:
        warehouse_option(p)
        p.add_argument("--policy", help="policy YAML, for its tracker section (default: the shipped policy.yml)")
        p.add_argument("--token-env", default="JIRA_TOKEN", metavar="VARIABLE",
                       help="environment variable holding the tracker's API token (default: JIRA_TOKEN)")

    dft = sub.add_parser("defects-from-tests", help="a CI run's failed tests as defect candidates",
                         description="Exit codes: 0 no new candidate (every failure seen again or none), 1 new "
                                     "candidates written, 2 error (unreadable JUnit file, unknown environment, "
                                     "missing warehouse or token, or a --post delivery that failed).")
    dft.add_argument("--junit", action="append", required=True, metavar="PATH",
                     help="JUnit XML file, or a folder of them (repeatable)")
    dft.add_argument("--environment", required=True, help="where the tests ran (a policy environment name)")
    dft.add_argument("--build-url", required=True, help="the CI run's URL: each candidate's first-seen build")
    dft.add_argument("--commit", help="commit tested (default: the JUnit files' commit property)")
    dft.add_argument("--service", help="service under test: open defects of other services do not cover it")
    dft.add_argument("--out", required=True, metavar="DIR", help="folder for the candidates' files")
    dft.add_argument("--post", metavar="URL", help="POST each create-issue payload here, e.g. "
                                                  "https://jira.example.com/rest/api/2/issue")
    tracker_options(dft)
    dft.set_defaults(func=cmd_defects_from_tests)

    sync = sub.add_parser("sync", help="the warehouse's computed fields as Jira update payloads (dry run)",
                          description="Exit codes: 0 payloads written (or all sent), 1 some updates not "
                                      "delivered, 2 error (missing warehouse or token, no field mapped in "
                                      "tracker.fields).")
    sync.add_argument("--service", help="only this service's defects")
    sync.add_argument("--all", action="store_true", help="closed defects too (default: open ones)")
    sync.add_argument("--out", metavar="FILE", help="write the payloads here as JSON lines (default: print them)")
    sync.add_argument("--post", metavar="BASE_URL", help="send them: PUT BASE_URL/rest/api/2/issue/KEY")
    tracker_options(sync)
    sync.set_defaults(func=cmd_sync)

    notify = sub.add_parser("notify", help="webhook messages for high-severity defects in active deployment streams",
                            description="Exit codes: 0 sent (or nothing to send), 1 a delivery failed (the next "
                                        "run retries it), 2 error.")
    warehouse_option(notify)
    notify.add_argument("--policy", help="policy YAML with notify.severities and notify.webhooks")
    notify.add_argument("--dry-run", action="store_true", help="print what would be sent; send and record nothing")
    notify.set_defaults(func=cmd_notify)

    report = sub.add_parser("report", help="render one report from the current warehouse",
                            description="Exit codes: 0 ok, 2 failed.")
    report.add_argument("name", help="which report: executive, post_release, postmortem, clusters")
    report.add_argument("--param", action="append", metavar="KEY=VALUE", help="notebook parameter (repeatable)")
    warehouse_and_reports(report)
    report.set_defaults(func=cmd_report)

    gen = sub.add_parser("generate", help="write deterministic synthetic exports",
                         description="Exports as the tools write them (Jira JSON with changelog, PagerDuty "
                                     "JSON, JUnit and Cobertura XML, canonical CSV for deployments, releases "
                                     "and commits), with realistic vocabularies and timings.")
    gen.add_argument("--canonical", action="store_true",
                     help="write the six canonical CSVs instead (what the benchmark reads)")
    gen.add_argument("--out", required=True, help="output folder")
    gen.add_argument("--scale", type=float, default=1.0, help="size multiplier (1 = a few hundred defects)")
    gen.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    gen.add_argument("--tests-per-file", default="4-8", metavar="MIN-MAX",
                     help="tests per source file in the JUnit reports (default 4-8; the benchmark uses 44-88 "
                          "for a large organisation's test volume)")
    gen.set_defaults(func=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.func(args)
    except (PolicyError, AsOfError, BuildFailed, OSError) as exc:
        # OSError: an unwritable path or a full disk, said in one line (--verbose adds the traceback)
        text = "\n".join(map(printable, str(exc).split("\n")))  # a step's error may quote the data
        log.error("error: %s", text, exc_info=args.verbose and isinstance(exc, OSError))
        return EXIT_FAILED
