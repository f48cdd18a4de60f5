"""The `pull` asset: the connected sources' API pages fetched into the exports folder, before ingest.

With no `sources.<name>.connection` in the policy it does nothing, so a build from hand exports
is unchanged (docs/contract.md "Pulling from the APIs").

Each connector is a Dagster resource (`jira_connector`, `github_connector`, `pagerduty_connector`,
`gitlab_connector`). Unset, a resource leaves the policy's connection as it is; its fields replace
the policy's base URL or token place for that source only (e.g. a staging server from the
Dagster UI's launchpad). It never holds a token, only where to read it.
"""

from typing import ClassVar

import dagster as dg

from pipelines.connectors.base import Connection
from pipelines.connectors.pull import connected, run_pull
from pipelines.defs.warehouse import Warehouse
from pipelines.policy import load_policy
from pipelines.settings import BuildSettings


class ConnectorResource(dg.ConfigurableResource):
    """One source's connection: the policy's, with the fields set here replacing the policy's."""

    SOURCE: ClassVar[str] = ""
    base_url: str = ""
    token_env: str = ""
    token_file: str = ""

    def connection(self, from_policy: Connection | None) -> Connection | None:
        """None when the policy has no connection for the source: a resource alone does not turn a pull on."""
        if from_policy is None:
            return None
        overrides: dict[str, str | None] = {"base_url": self.base_url} if self.base_url else {}
        if self.token_env or self.token_file:  # one token place replaces the other, as the policy requires
            overrides |= {"token_env": self.token_env or None, "token_file": self.token_file or None}
        return Connection(**{**from_policy.__dict__, **overrides})


class JiraConnector(ConnectorResource):
    SOURCE: ClassVar[str] = "jira"


class GitHubConnector(ConnectorResource):
    SOURCE: ClassVar[str] = "github"


class PagerDutyConnector(ConnectorResource):
    SOURCE: ClassVar[str] = "pagerduty"


class GitLabConnector(ConnectorResource):
    SOURCE: ClassVar[str] = "gitlab"


CONNECTOR_RESOURCES: dict[str, type[ConnectorResource]] = {
    f"{cls.SOURCE}_connector": cls for cls in (JiraConnector, GitHubConnector, PagerDutyConnector, GitLabConnector)
}


@dg.asset(key=["pull"], group_name="pull", kinds={"python"},
          description="API pages of the connected sources, written into the exports folder")
def pull(context: dg.AssetExecutionContext, build: BuildSettings, warehouse: Warehouse,
         jira_connector: JiraConnector, github_connector: GitHubConnector,
         pagerduty_connector: PagerDutyConnector, gitlab_connector: GitLabConnector) -> dg.MaterializeResult:
    policy = load_policy(build.policy())
    from_policy = connected(policy)
    resources = (jira_connector, github_connector, pagerduty_connector, gitlab_connector)
    connections = {resource.SOURCE: connection for resource in resources
                   if (connection := resource.connection(from_policy.get(resource.SOURCE))) is not None}
    if not connections:
        context.log.info("no source has a connection in the policy: nothing to pull")
        return dg.MaterializeResult(metadata={"pages": 0})
    pulled = run_pull(policy, build.exports(), warehouse.live_file(), connections)
    return dg.MaterializeResult(metadata={name: len(files) for name, files in pulled.items()}
                                | {"pages": sum(map(len, pulled.values()))})


defs = dg.Definitions(assets=[pull], resources={name: cls() for name, cls in CONNECTOR_RESOURCES.items()})
