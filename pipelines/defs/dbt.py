"""The dbt models as Dagster assets: one DbtProject, one translator, dbt tests as asset checks."""


import json
import logging
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from pipelines import progress, pseudonyms, spark_engine
from pipelines.defs.quality import dbt_tests
from pipelines.defs.warehouse import Warehouse
from pipelines.settings import BuildSettings
from pipelines.warehouse import DBT_PROJECT_DIR, environment_variable

log = logging.getLogger("defectflow")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Parses only under `dagster dev`; the CLI and the tests run `dbt parse` explicitly.
dbt_project.prepare_if_dev()


class Translator(DagsterDbtTranslator):
    """Keys are `<schema>/<name>` (raw sources, staging/intermediate/marts models);
    the group is the dbt folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=Translator())
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse,
               build: BuildSettings):
    """`dbt run`, then `dbt test`: the data tests, reported as asset checks (a failed one with its rows).

    The dbt unit tests check the models' logic, which a user's data cannot change: they run in
    CI (tests/test_dbt_unit_tests.py), not in every build. Two invocations rather than `dbt build`
    so each stage's cost is its own (benchmarks/run.py); a failed test still fails the build,
    and the warehouse copy is then not published.

    With the `spark` engine the models run on Spark and come back into the build copy as
    tables (pipelines/spark_engine.py); the data tests then run on DuckDB as they do otherwise.
    """
    # dbt's target and logs go to the build copy's folder, removed with it: nothing of a build
    # stays in the installed project (dagster-dbt would give each invocation a folder there).
    target = warehouse.work_dir / "dbt"
    with (
        warehouse.dbt_environment(),
        environment_variable(pseudonyms.KEY_ENV, str(pseudonyms.ensure_key())),  # staging's person_key
    ):
        if build.engine_name() == "spark":
            _models_on_spark(warehouse)
            yield from _spark_outputs(context)
        else:
            with progress.stage("dbt models"):
                models = dbt.cli(["run"], context=context, raise_on_error=False, target_path=target / "run")
                yield from _events(models, "models", [])
            if (error := models.get_error()) is not None:
                raise error
        failed: list[dg.AssetCheckResult] = []
        with progress.stage("dbt tests"):
            tests = dbt.cli(["test", *TEST_ARGS], context=context, raise_on_error=False, target_path=target / "test")
            yield from _events(tests, "tests", failed)
        yield from dbt_tests.with_offending_rows(tests, failed, warehouse.file)
        if (error := dbt_tests.unreported_error(tests, failed)) is not None:
            raise error


def _models_on_spark(warehouse: Warehouse) -> None:
    """Raw tables out as Parquet, dbt on Spark in a child process, every model's relation back in."""
    spark_engine.check_available()
    with spark_engine.spark_folder(warehouse.work_dir) as folder:
        with progress.stage("export raw tables to Parquet"), warehouse.connect() as con:
            spark_engine.export_raw(con, folder)
        with progress.stage("dbt models on Spark"):
            spark_engine.run_models(folder, spark_engine.python_model_names(dbt_project.manifest_path))
        with progress.stage("models from Spark into DuckDB"), warehouse.connect() as con:
            copied = spark_engine.copy_back(con, folder)
        log.info("  %d tables from Spark", copied)


def _spark_outputs(context: dg.AssetExecutionContext) -> Iterator[dg.Output]:
    """One output per selected model, parents first (Dagster requires a multi-asset's outputs in
    dependency order): the models were built on Spark and are in the build copy now. An output
    not yielded would skip every asset downstream (correlation, GX checks, reports)."""
    nodes = dbt_project_manifest()["nodes"]
    translator = Translator()
    selected = context.selected_asset_keys
    done: set[str] = set()

    def visit(unique_id: str) -> Iterator[dg.Output]:
        if unique_id in done or unique_id not in nodes:
            return
        done.add(unique_id)
        for parent in nodes[unique_id]["depends_on"]["nodes"]:
            yield from visit(parent)
        if nodes[unique_id]["resource_type"] == "model":
            key = translator.get_asset_key(nodes[unique_id])
            if key in selected:
                yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_key(key))

    for unique_id in sorted(nodes):
        yield from visit(unique_id)


def dbt_project_manifest() -> dict[str, Any]:
    return json.loads(Path(dbt_project.manifest_path).read_text())


#: What a build tests: every data test, no unit test.
TEST_ARGS = ("--exclude-resource-type", "unit_test")


def _events(invocation: DbtCliInvocation, task: str, failed: list[dg.AssetCheckResult]) -> Iterator[Any]:
    """dbt's events as Dagster's, counting progress; a failed test's check is held back in
    `failed`: its rows can be read only once dbt has released the warehouse."""
    total = sum(1 for node in invocation.manifest["nodes"].values() if _counted(node, task))
    done = 0
    for event in invocation.stream():
        if isinstance(event, dg.AssetCheckResult) and not event.passed:
            log.warning("  test failed: %s on %s", event.check_name, event.asset_key.to_user_string())
            failed.append(event)
        else:
            yield event
        if isinstance(event, dg.Output | dg.AssetCheckResult | dg.AssetObservation):
            done += 1
            progress.advance(f"dbt {task}", min(done, total), total)


def _counted(node: Mapping[str, Any], task: str) -> bool:
    return node["resource_type"] == ("model" if task == "models" else "test")


def _dbt_executable() -> str:
    """dbt beside this Python (an un-activated virtualenv works too), started through
    `defectflow-dbt` so that it ends with the build (pipelines/dbt_child.py)."""
    for name in ("defectflow-dbt", "dbt"):
        if (beside := Path(sys.executable).parent / name).exists():
            return str(beside)
    return shutil.which("dbt") or "dbt"


defs = dg.Definitions(
    assets=[dbt_models],
    resources={"dbt": DbtCliResource(
        project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=_dbt_executable()
    )},
)
