"""CI exports for the synthetic generator: JUnit XML test results and Cobertura coverage.

`write(frames, out_dir)` turns the canonical tables into what a CI server
keeps for every release it built: `junit/<service>-<release>.xml` and
`coverage/<service>-<release>.xml`. A release's pipeline ran on the release
commit 12-40 minutes before the release's first deployment.

* Java services (sources under `src/main/java`) write Maven Surefire reports:
  one `<testsuite>` per test class, merged under `<testsuites>` as CI merge
  steps do, Surefire's system `<properties>` carrying `GIT_COMMIT` and `env`,
  a passing rerun as `<flakyFailure>`, and no suite timestamp (Surefire
  writes none). Their coverage is Cobertura XML.
* Python services write pytest's single-line JUnit XML (one `pytest` suite
  with a naive `timestamp`, `commit` and `environment` recorded with
  `record_testsuite_property`) and coverage.py's Cobertura XML.

Tests are named after the service's components (its source files in the
commits' `files`), 4-8 per component, the same every release. 60 % of the
runs fail a test or a few, 20 % have a test erroring in setup; a failure
carries the stack trace of a defect of the same component (else of the
service). Coverage file names are repository-relative (coverage.py with
`relative_files`), so they join the commits' files; each file keeps its
coverage level across releases, and about a quarter of the files sit below
80 %.

CI servers expire artifacts (`expire_in: 2 weeks` is a common GitLab
setting), so only the runs of the last `RETENTION_DAYS` before the newest
deployment are written; that also keeps the committed sample small (about
75 KB for the 8 runs of the sample). Everything is vectorised with numpy (the
only loop writes one file per run) and driven by one generator seeded with
`SEED`: the same frames give byte-identical files.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from pipelines.synthetic.arrays import STR, as_text, cat

__all__ = ["RETENTION_DAYS", "SEED", "TESTS_PER_FILE", "check_tests_per_file", "write"]

SEED = 20260105
RETENTION_DAYS = 14
TESTS_PER_FILE = (4, 8)
RUNS_PER_BATCH = 2_000

LAST = np.iinfo(np.int64).max  # sort position of a document's closing piece

ACTIONS = ("creates", "updates", "rejects", "retries", "caches", "validates", "lists", "expires", "exports", "merges")
CONDITIONS = (
    "with_valid_input", "when_empty", "on_timeout", "for_unknown_id", "after_retry", "with_unicode_names",
    "when_disabled", "concurrently", "with_missing_fields", "at_page_limit",
)
SKIP_REASONS = ("requires sandbox credentials", "flaky on shared runners", "needs the staging database")
# Infrastructure errors: (pytest setup error, Java exception type, Java message).
SETUP_ERRORS = (
    ("ConnectionRefusedError: [Errno 111] Connection refused", "java.net.ConnectException", "Connection refused"),
    (
        "TimeoutError: database did not accept connections within 30s",
        "org.testcontainers.containers.ContainerLaunchException", "Container startup failed",
    ),
)
FLAKE_TYPE, FLAKE_MESSAGE = "java.util.concurrent.TimeoutException", "Timed out after 1000 ms"
# A failure's trace when the service has no defect with a stack trace.
FALLBACK_TRACE = {
    False: "AssertionError: assert 200 == 201",
    True: "org.opentest4j.AssertionFailedError: expected: <201> but was: <200>",
}

PYTEST_DOC = '<?xml version="1.0" encoding="utf-8"?><testsuites>'
SUREFIRE_DOC = '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n'
SUREFIRE_SUITE = (
    '<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:noNamespaceSchemaLocation="https://maven.apache.org/surefire/maven-surefire-plugin/xsd/'
    'surefire-test-report-3.0.xsd" version="3.0" name="'
)
COVERAGE_PY_VERSION = "7.6.1"


# --------------------------------------------------------------------------- string helpers


def _split(text: np.ndarray, sep: str, last: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(before, after) the first (or last) `sep`; without one: (text, "") or ("", text)."""
    parts = (np.strings.rpartition if last else np.strings.partition)(text, np.array(sep, dtype=STR))
    return parts[0], parts[2]


def _escape(text: np.ndarray) -> np.ndarray:
    """XML-escaped for element text and attribute values alike."""
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        text = np.strings.replace(text, raw, escaped)
    return text


def _hex(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """n random lower-case hex strings of `width` digits."""
    text = rng.bytes(width // 2 * n).hex().encode("ascii")
    return np.strings.decode(np.frombuffer(text, dtype=f"S{width}"), "ascii").astype(STR)


def _decimal(thousandths: np.ndarray) -> np.ndarray:
    """Integer thousandths as "12.345"."""
    whole, frac = np.divmod(np.asarray(thousandths, np.int64), 1000)
    return cat(as_text(whole), ".", np.strings.zfill(as_text(frac), 3))


def _rate(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """A Cobertura rate as coverage.py writes it (4 significant digits): "1", "0.85", "0.8667", "0"."""
    part, whole = np.asarray(part), np.asarray(whole)
    tenk = np.where(whole > 0, np.round(10_000 * part / np.maximum(whole, 1)), 10_000).astype(np.int64)
    digits = np.strings.rstrip(np.strings.zfill(as_text(tenk), 4), np.array("0", dtype=STR))
    return np.select([tenk >= 10_000, tenk <= 0], ["1", "0"], cat("0.", digits)).astype(STR)


def _camel(snake: np.ndarray, words: int = 6) -> np.ndarray:
    """"rejects_orders_when_empty" -> "rejectsOrdersWhenEmpty" (up to `words` words)."""
    out, rest = _split(snake, "_")
    for _ in range(words - 1):
        word, rest = _split(rest, "_")
        out = cat(out, np.strings.upper(np.strings.slice(word, 0, 1)), np.strings.slice(word, 1, None))
    return out


def _pieces(**columns: np.ndarray) -> pd.DataFrame:
    """Document pieces keyed by (run, block, part, seq); sorted, their texts concatenate to the files."""
    n = max(len(v) for v in columns.values() if np.ndim(v))
    return pd.DataFrame({k: np.broadcast_to(v, n) if np.ndim(v) == 0 else v for k, v in columns.items()})


# --------------------------------------------------------------------------- inputs


def _epoch_seconds(text: pd.Series) -> np.ndarray:
    """ISO-8601 text (any offset; naive = UTC wall time, as the generator writes it) as epoch seconds."""
    stamps = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(dtype="float64", na_value=np.nan)


def _runs(deployments: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One CI run per (service, release) inside the retention, on its first deployment's commit."""
    dep = deployments.fillna("")
    dep = dep.assign(started=_epoch_seconds(dep["started_at"]), finished=_epoch_seconds(dep["finished_at"]))
    dep = dep[np.isfinite(dep["started"]) & (dep["service"] != "") & (dep["release"] != "")]
    first = dep.sort_values(["started", "deployment_id"], kind="stable").drop_duplicates(["service", "release"])
    newest = np.nanmax(dep["finished"].to_numpy(), initial=-np.inf)
    kept = first[first["started"] >= newest - RETENTION_DAYS * 86_400]
    runs = kept.sort_values(["service", "started", "release"], kind="stable").reset_index(drop=True)
    start = runs["started"].to_numpy(np.int64) - rng.integers(12 * 60, 40 * 60, len(runs))
    return pd.DataFrame({
        "run": np.arange(len(runs)),
        "service": runs["service"].to_numpy(dtype=str),
        "release": runs["release"].to_numpy(dtype=str),
        "sha": runs["commit_sha"].to_numpy(dtype=str),
        "start": start,
    })


def _sources(commits: pd.DataFrame, services: np.ndarray) -> pd.DataFrame:
    """The services' source files named in commits (tests and docs excluded), in path order."""
    files = commits["files"].fillna("").str.split(";").explode().str.strip()
    found = files.str.extract(r"^services/(?P<service>[^/]+)/(?:src/main/java/(?P<java>.+)\.java|src/.+\.py)$")
    src = pd.DataFrame({"path": files, "service": found["service"], "java": found["java"]})
    src = src[src["service"].isin(services)].drop_duplicates("path").sort_values("path", kind="stable")
    path = as_text(src["path"].to_numpy(dtype=str))
    is_java = src["java"].notna().to_numpy()
    dotted = np.strings.replace(as_text(src["java"].fillna("").to_numpy(dtype=str)), "/", ".")
    folder, file_name = _split(path, "/", last=True)
    stem = _split(file_name, ".", last=True)[0]
    return pd.DataFrame({
        "file": np.arange(len(path)),
        "service": src["service"].to_numpy(dtype=str),
        "path": path,
        "java": is_java,
        "noun": np.where(is_java, np.strings.lower(np.strings.replace(stem, "Service", "")), stem),
        "package": np.where(is_java, _split(dotted, ".", last=True)[0], np.strings.replace(folder, "/", ".")),
        "code_class": np.where(is_java, dotted, file_name),
        "test_class": np.where(is_java, cat(dotted, "Test"), cat("tests.test_", stem)),
        "test_file": cat("services/", src["service"].to_numpy(dtype=str).astype(STR), "/tests/test_", stem, ".py"),
    })


# --------------------------------------------------------------------------- JUnit


def _catalog(rng: np.random.Generator, src: pd.DataFrame, per_file_range: tuple[int, int]) -> pd.DataFrame:
    """The tests of every source file: `per_file_range` (4-8 by default) distinct action/condition
    names, fixed for all releases."""
    per_file = rng.integers(per_file_range[0], per_file_range[1] + 1, len(src))
    combos = len(ACTIONS) * len(CONDITIONS)
    chosen = np.argsort(rng.random((len(src), combos)), axis=1)
    file = np.repeat(np.arange(len(src)), per_file)
    rank = np.arange(len(file)) - np.repeat(np.cumsum(per_file) - per_file, per_file)
    combo = chosen[file, rank]
    noun = as_text(src["noun"].to_numpy())[file]
    snake = cat(
        as_text(ACTIONS)[combo // len(CONDITIONS)], "_", noun, "_", as_text(CONDITIONS)[combo % len(CONDITIONS)]
    )
    java = src["java"].to_numpy()[file]
    slow = rng.random(len(file)) < 0.05  # integration tests: two orders of magnitude slower
    return pd.DataFrame({
        "file": file,
        "test": np.arange(len(file)),
        "name": np.where(java, cat(_camel(snake), "()"), cat("test_", snake)),
        "base_ms": np.exp(rng.normal(np.log(8), 0.9, len(file))) * np.where(slow, 150, 1),
        "always_skipped": rng.random(len(file)) < 0.05,
        "skip_reason": as_text(SKIP_REASONS)[rng.integers(0, len(SKIP_REASONS), len(file))],
        "line": rng.integers(12, 400, len(file)),
    })


def _failure_traces(rng: np.random.Generator, c: pd.DataFrame, defects: pd.DataFrame) -> np.ndarray:
    """Per case, a stack trace of one of its component's defects, else its service's, else a plain assertion."""
    traced = defects.fillna("")
    traced = traced[traced["stack_trace"] != ""]
    trace = np.where(c["java"].to_numpy(), FALLBACK_TRACE[True], FALLBACK_TRACE[False]).astype(STR)
    u = rng.random(len(c))
    for group, query in (
        (traced["service"], c["service"]),
        (traced["service"] + "/" + traced["component"], c["service"] + "/" + c["noun"].astype(str)),
    ):
        order = np.argsort(group.to_numpy(dtype=str), kind="stable")
        keys = group.to_numpy(dtype=str)[order]
        texts = as_text(traced["stack_trace"].to_numpy(dtype=str))[order]
        lo = np.searchsorted(keys, query.to_numpy(dtype=str), "left")
        size = np.searchsorted(keys, query.to_numpy(dtype=str), "right") - lo
        pick = np.clip(lo + (u * size).astype(np.int64), 0, max(len(texts) - 1, 0))
        if len(texts):
            trace = np.where(size > 0, texts[pick], trace)
    return trace


def _cases(rng: np.random.Generator, runs: pd.DataFrame, src: pd.DataFrame, tests: pd.DataFrame,
           defects: pd.DataFrame) -> pd.DataFrame:
    """Every (run, test) with its outcome, duration and failure text."""
    catalog = tests.merge(src, on="file")
    c = runs.merge(catalog, on="service").sort_values(["run", "test"], kind="stable").reset_index(drop=True)
    n = len(c)
    # Evenly spread shares (not binomial draws), so even a handful of runs shows failures and errors.
    run_share = (rng.permutation(len(runs)) + 0.5) / max(len(runs), 1)
    failures = np.where(run_share < 0.6, 1 + rng.poisson(0.7, len(runs)), 0)
    errors = (rng.permutation(len(runs)) + 0.5 < 0.2 * len(runs)).astype(np.int64)
    # Each run's cases in random order: the first `errors` error, the next `failures` fail.
    run = c["run"].to_numpy()
    shuffled = np.lexsort((rng.random(n), run))
    rank = np.empty(n, np.int64)
    rank[shuffled] = np.arange(n) - np.searchsorted(run, run[shuffled], "left")
    error = rank < errors[run]
    failed = ~error & (rank < errors[run] + failures[run])
    skipped = c["always_skipped"].to_numpy()
    status = np.select([skipped, error, failed], ["skipped", "error", "failed"], "passed")
    flaky = (status == "passed") & c["java"].to_numpy() & (rng.random(n) < 0.02)
    ms = np.where(skipped, 0, np.round(c["base_ms"].to_numpy() * np.exp(rng.normal(0, 0.2, n)))).astype(np.int64)
    return c.assign(status=status, flaky=flaky, ms=ms, trace=_failure_traces(rng, c, defects),
                    setup_error=rng.integers(0, len(SETUP_ERRORS), n))


def _case_xml(c: pd.DataFrame) -> np.ndarray:
    """One `<testcase>` element per case, pytest or Surefire style."""
    java = c["java"].to_numpy()
    status = c["status"].to_numpy()
    cls = _escape(as_text(c["test_class"].to_numpy()))
    name = _escape(as_text(c["name"].to_numpy()))
    time = _decimal(c["ms"].to_numpy())
    trace = as_text(c["trace"].to_numpy())
    first_line = _split(trace, "\n")[0]
    java_type, java_message = _split(first_line, ": ")
    py_message = _split(trace, "\n", last=True)[1]
    err = c["setup_error"].to_numpy()
    err_py = as_text([e[0] for e in SETUP_ERRORS])[err]
    err_type = as_text([e[1] for e in SETUP_ERRORS])[err]
    err_message = as_text([e[2] for e in SETUP_ERRORS])[err]
    method = _split(name, "(")[0]
    frame = cat("\n\tat ", cls, ".", method, "(", _split(cls, ".", last=True)[1], ".java:",
                as_text(c["line"].to_numpy()), ")")
    reason = as_text(c["skip_reason"].to_numpy())

    py_open = cat('<testcase classname="', cls, '" name="', name, '" time="', time, '"')
    py_body = np.select(
        [status == "failed", status == "error", status == "skipped"],
        [
            cat('<failure message="', _escape(py_message), '">', _escape(trace), "</failure>"),
            cat('<error message="failed on setup with &quot;', _escape(err_py), '&quot;">',
                "tests/conftest.py:14: in sandbox\n    return connect(SANDBOX_URL)\nE   ", _escape(err_py),
                "</error>"),
            cat('<skipped type="pytest.skip" message="', reason, '">', _escape(as_text(c["test_file"].to_numpy())), ":",
                as_text(c["line"].to_numpy()), ": ", reason, "</skipped>"),
        ],
        "",
    )
    py = np.where(py_body == "", cat(py_open, " />"), cat(py_open, ">", py_body, "</testcase>"))

    java_open = cat('  <testcase name="', name, '" classname="', cls, '" time="', time, '"')
    java_body = np.select(
        [status == "failed", status == "error", status == "skipped", c["flaky"].to_numpy()],
        [
            cat('    <failure message="', _escape(java_message), '" type="', _escape(java_type), '">',
                _escape(trace), "</failure>\n"),
            cat('    <error message="', err_message, '" type="', err_type, '">', err_type, ": ", err_message,
                frame, "</error>\n"),
            cat('    <skipped message="', reason, '"/>\n'),
            cat('    <flakyFailure message="', FLAKE_MESSAGE, '" type="', FLAKE_TYPE, '">\n      <stackTrace>',
                FLAKE_TYPE, ": ", FLAKE_MESSAGE, frame, "</stackTrace>\n    </flakyFailure>\n"),
        ],
        "",
    )
    surefire = np.where(java_body == "", cat(java_open, "/>\n"), cat(java_open, ">\n", java_body, "  </testcase>\n"))
    return np.where(java, surefire, py)


def _junit_pieces(rng: np.random.Generator, runs: pd.DataFrame, c: pd.DataFrame) -> pd.DataFrame:
    """The JUnit documents as sorted pieces: per run (pytest) or per test class (Surefire) suites."""
    counts = c.assign(
        failed=c["status"] == "failed", error=c["status"] == "error", skipped=c["status"] == "skipped", tests=1
    )
    java_cases = counts[counts["java"]]
    py_cases = counts[~counts["java"]]
    cases = _pieces(run=c["run"].to_numpy(), block=c["file"].to_numpy(), part=1, seq=c["test"].to_numpy(),
                    text=_case_xml(c))

    # pytest: one suite per run, its header carrying the whole document's opening.
    py = py_cases.groupby("run", sort=True).agg(
        tests=("tests", "sum"), failed=("failed", "sum"), error=("error", "sum"), skipped=("skipped", "sum"),
        ms=("ms", "sum"),
    ).join(runs.set_index("run"))
    py_ts = np.datetime_as_string(
        (py["start"].to_numpy() * 1_000_000 + rng.integers(0, 1_000_000, len(py))).astype("datetime64[us]"), unit="us"
    )
    host = cat("runner-", _hex(rng, len(py), 8))
    py_head = cat(
        PYTEST_DOC, '<testsuite name="pytest" errors="', as_text(py["error"].to_numpy()), '" failures="',
        as_text(py["failed"].to_numpy()), '" skipped="', as_text(py["skipped"].to_numpy()), '" tests="',
        as_text(py["tests"].to_numpy()), '" time="', _decimal(py["ms"].to_numpy() + 900), '" timestamp="',
        as_text(py_ts), '" hostname="', host, '"><properties><property name="commit" value="',
        as_text(py["sha"].to_numpy()), '" /><property name="environment" value="ci" /></properties>',
    )
    py_run = py.index.to_numpy()

    # Surefire: one suite per test class, wrapped in <testsuites>.
    suites = java_cases.groupby(["run", "file"], sort=True).agg(
        tests=("tests", "sum"), failed=("failed", "sum"), error=("error", "sum"), skipped=("skipped", "sum"),
        ms=("ms", "sum"), cls=("test_class", "first"), sha=("sha", "first"),
    ).reset_index()
    suite_head = cat(
        SUREFIRE_SUITE, _escape(as_text(suites["cls"].to_numpy())), '" time="', _decimal(suites["ms"].to_numpy()),
        '" tests="', as_text(suites["tests"].to_numpy()), '" errors="', as_text(suites["error"].to_numpy()),
        '" skipped="', as_text(suites["skipped"].to_numpy()), '" failures="', as_text(suites["failed"].to_numpy()),
        '">\n  <properties>\n    <property name="java.version" value="17.0.10"/>\n'
        '    <property name="GIT_COMMIT" value="',
        as_text(suites["sha"].to_numpy()), '"/>\n    <property name="env" value="ci"/>\n  </properties>\n',
    )
    java_run = np.unique(suites["run"].to_numpy())
    return pd.concat([
        cases,
        _pieces(run=py_run, block=-1, part=0, seq=0, text=py_head),
        _pieces(run=py_run, block=LAST, part=0, seq=0, text=as_text(["</testsuite></testsuites>\n"] * len(py_run))),
        _pieces(run=java_run, block=-1, part=0, seq=0, text=as_text([SUREFIRE_DOC] * len(java_run))),
        _pieces(run=suites["run"].to_numpy(), block=suites["file"].to_numpy(), part=0, seq=0, text=suite_head),
        _pieces(run=suites["run"].to_numpy(), block=suites["file"].to_numpy(), part=2, seq=0,
                text=as_text(["</testsuite>\n"] * len(suites))),
        _pieces(run=java_run, block=LAST, part=0, seq=0, text=as_text(["</testsuites>\n"] * len(java_run))),
    ], ignore_index=True)


# --------------------------------------------------------------------------- Cobertura


def _coverage_pieces(rng: np.random.Generator, runs: pd.DataFrame, src: pd.DataFrame) -> pd.DataFrame:
    """The Cobertura documents as sorted pieces: one class per source file, lines with hits."""
    # Fixed per file: its executable lines, which of them branch, and how well it is tested.
    n_lines = rng.integers(10, 27, len(src))
    line_file = np.repeat(np.arange(len(src)), n_lines)
    gaps = rng.integers(1, 4, len(line_file))
    first = np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    before_file = (np.cumsum(gaps) - gaps)[first]
    number = 2 + np.cumsum(gaps) - before_file  # from line 3 on, 1-3 lines apart
    branches = rng.choice([0, 2, 4], size=len(line_file), p=[0.85, 0.12, 0.03])
    quality = np.clip(0.97 - rng.exponential(0.12, len(src)), 0.3, 1.0)
    structure = pd.DataFrame({"file": line_file, "seq": np.arange(len(line_file)) - first, "number": number,
                              "branches": branches})

    files = runs.merge(src, on="service").sort_values(["run", "file"], kind="stable").reset_index(drop=True)
    files["quality"] = np.clip(quality[files["file"].to_numpy()] + rng.normal(0, 0.03, len(files)), 0.2, 1.0)
    lines = files[["run", "file", "java", "quality"]].merge(structure, on="file")
    lines = lines.sort_values(["run", "file", "seq"], kind="stable").reset_index(drop=True)
    n = len(lines)
    covered = rng.random(n) < lines["quality"].to_numpy()
    hits = np.where(covered, rng.geometric(0.2, n), 0)
    valid = lines["branches"].to_numpy()
    taken = np.where(covered, rng.binomial(valid, lines["quality"].to_numpy()), 0)
    lines = lines.assign(covered=covered, taken=taken)

    branch = valid > 0
    condition = cat(' branch="true" condition-coverage="', as_text(100 * taken // np.maximum(valid, 1)), '% (',
                    as_text(taken), "/", as_text(valid), ')"')
    plain = np.where(lines["java"].to_numpy(), ' branch="false"', "").astype(STR)
    line_xml = cat('\t\t\t\t\t\t<line number="', as_text(lines["number"].to_numpy()), '" hits="', as_text(hits), '"',
                   np.where(branch, condition, plain), "/>\n")

    per_file = lines.groupby(["run", "file"], sort=True).agg(
        valid=("covered", "size"), covered=("covered", "sum"), b_valid=("branches", "sum"), b_taken=("taken", "sum"),
    ).reset_index().merge(files[["run", "file", "path", "code_class", "package", "java"]], on=["run", "file"])
    class_head = cat(
        '\t\t\t\t<class name="', _escape(as_text(per_file["code_class"].to_numpy())), '" filename="',
        _escape(as_text(per_file["path"].to_numpy())), '" complexity="0" line-rate="',
        _rate(per_file["covered"].to_numpy(), per_file["valid"].to_numpy()), '" branch-rate="',
        _rate(per_file["b_taken"].to_numpy(), per_file["b_valid"].to_numpy()),
        '">\n\t\t\t\t\t<methods/>\n\t\t\t\t\t<lines>\n',
    )

    per_run = per_file.groupby("run", sort=True).agg(
        valid=("valid", "sum"), covered=("covered", "sum"), b_valid=("b_valid", "sum"), b_taken=("b_taken", "sum"),
        package=("package", "first"), java=("java", "first"),
    ).join(runs.set_index("run"))
    rate = _rate(per_run["covered"].to_numpy(), per_run["valid"].to_numpy())
    b_rate = _rate(per_run["b_taken"].to_numpy(), per_run["b_valid"].to_numpy())
    stamp = as_text(per_run["start"].to_numpy() * 1000 + rng.integers(60_000, 400_000, len(per_run)))
    totals = cat(
        'lines-valid="', as_text(per_run["valid"].to_numpy()), '" lines-covered="',
        as_text(per_run["covered"].to_numpy()), '" line-rate="', rate, '" branches-covered="',
        as_text(per_run["b_taken"].to_numpy()), '" branches-valid="', as_text(per_run["b_valid"].to_numpy()),
        '" branch-rate="', b_rate, '" complexity="0"',
    )
    package = cat(
        '\t<sources>\n\t\t<source>.</source>\n\t</sources>\n\t<packages>\n\t\t<package name="',
        _escape(as_text(per_run["package"].to_numpy())), '" line-rate="', rate, '" branch-rate="', b_rate,
        '" complexity="0">\n\t\t\t<classes>\n',
    )
    doc_head = np.where(
        per_run["java"].to_numpy(),
        cat('<?xml version="1.0" encoding="UTF-8"?>\n<coverage ', totals, ' version="0.1" timestamp="', stamp,
            '">\n', package),
        cat('<?xml version="1.0" ?>\n<coverage version="', COVERAGE_PY_VERSION, '" timestamp="', stamp, '" ',
            totals, ">\n\t<!-- Generated by coverage.py: https://coverage.readthedocs.io/en/", COVERAGE_PY_VERSION,
            " -->\n\t<!-- Based on https://raw.githubusercontent.com/cobertura/web/master/htdocs/xml/"
            "coverage-04.dtd -->\n", package),
    )
    run_ids = per_run.index.to_numpy()
    return pd.concat([
        _pieces(run=run_ids, block=-1, part=0, seq=0, text=doc_head),
        _pieces(run=per_file["run"].to_numpy(), block=per_file["file"].to_numpy(), part=0, seq=0, text=class_head),
        _pieces(run=lines["run"].to_numpy(), block=lines["file"].to_numpy(), part=1, seq=lines["seq"].to_numpy(),
                text=line_xml),
        _pieces(run=per_file["run"].to_numpy(), block=per_file["file"].to_numpy(), part=2, seq=0,
                text=as_text(["\t\t\t\t\t</lines>\n\t\t\t\t</class>\n"] * len(per_file))),
        _pieces(run=run_ids, block=LAST, part=0, seq=0,
                text=as_text(["\t\t\t</classes>\n\t\t</package>\n\t</packages>\n</coverage>\n"] * len(run_ids))),
    ], ignore_index=True)


# --------------------------------------------------------------------------- output


def _write_documents(out_dir: pathlib.Path, folder: str, runs: pd.DataFrame, pieces: pd.DataFrame,
                     rows: pd.Series) -> dict[str, int]:
    """Concatenate each run's sorted pieces into `<folder>/<service>-<release>.xml`."""
    (out_dir / folder).mkdir(parents=True, exist_ok=True)
    pieces = pieces.sort_values(["run", "block", "part", "seq"], kind="stable")
    run_of = pieces["run"].to_numpy()
    text = pieces["text"].to_numpy()
    written = {}
    for run, service, release in runs[["run", "service", "release"]].itertuples(index=False):
        lo, hi = np.searchsorted(run_of, run, "left"), np.searchsorted(run_of, run, "right")
        if lo == hi:
            continue
        name = f"{folder}/{service}-{release}.xml"
        with open(out_dir / name, "w", encoding="utf-8", newline="\n") as handle:
            handle.write("".join(text[lo:hi]))
        written[name] = int(rows.get(run, 0))
    return written


def check_tests_per_file(tests_per_file: tuple[int, int]) -> None:
    """A file's tests are distinct action/condition pairs: at most that many."""
    low, high = tests_per_file
    if not 1 <= low <= high <= len(ACTIONS) * len(CONDITIONS):
        raise ValueError(f"tests per file {low}-{high}: expected 1 <= MIN <= MAX <= {len(ACTIONS) * len(CONDITIONS)}")


def write(frames: dict[str, pd.DataFrame], out_dir: pathlib.Path,
          tests_per_file: tuple[int, int] = TESTS_PER_FILE) -> dict[str, int]:
    """Write the CI exports below `out_dir`; return {relative file name: rows (test cases or source files)}.

    `tests_per_file`: how many tests each source file has (a range; at most one per
    action/condition pair). The benchmark raises it to give a large organisation's test volume.
    """
    check_tests_per_file(tests_per_file)
    out_dir = pathlib.Path(out_dir)
    rng = np.random.default_rng(SEED)
    runs = _runs(frames["deployments"], rng)
    src = _sources(frames["commits"], runs["service"].unique())
    # A service with no source file in the commits gets no CI output.
    runs = runs[runs["service"].isin(src["service"])].reset_index(drop=True).assign(run=lambda r: r.index)
    tests = _catalog(rng, src, tests_per_file)
    written: dict[str, int] = {}
    # In batches of runs: a million defects' 5 million test cases at once would not fit in memory.
    for start in range(0, len(runs), RUNS_PER_BATCH):
        batch = runs.iloc[start:start + RUNS_PER_BATCH].reset_index(drop=True).assign(run=lambda r: r.index)
        cases = _cases(rng, batch, src, tests, frames["defects"])
        written |= _write_documents(out_dir, "junit", batch, _junit_pieces(rng, batch, cases),
                                    cases.groupby("run").size())
    coverage_files = runs.merge(src, on="service").groupby("run").size()
    written |= _write_documents(out_dir, "coverage", runs, _coverage_pieces(rng, runs, src), coverage_files)
    return dict(sorted(written.items()))
