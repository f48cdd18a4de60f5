"""The `pull` asset: the connected sources' API pages fetched into the exports folder, before ingest.

With no `sources.<name>.connection` in the policy it does nothing, so a build from hand exports
is unchanged (docs/contract.md "Pulling from the APIs").
"""

import dagster as dg

from pipelines.connectors.pull import connected, run_pull
from pipelines.defs.warehouse import Warehouse
from pipelines.policy import load_policy
from pipelines.settings import BuildSettings


@dg.asset(key=["pull"], group_name="pull", kinds={"python"},
          description="API pages of the connected sources, written into the exports folder")
def pull(context: dg.AssetExecutionContext, build: BuildSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    policy = load_policy(build.policy())
    if not connected(policy):
        context.log.info("no source has a connection in the policy: nothing to pull")
        return dg.MaterializeResult(metadata={"pages": 0})
    pulled = run_pull(policy, build.exports(), warehouse.live_file())
    return dg.MaterializeResult(metadata={name: len(files) for name, files in pulled.items()}
                                | {"pages": sum(map(len, pulled.values()))})


defs = dg.Definitions(assets=[pull])
