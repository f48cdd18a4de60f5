"""Integer codes for environments, statuses, resolutions, severities and outcomes, and their text.

The generator draws codes; the files carry canonical text for the
deployments' environment and status, and elsewhere the raw name that the
team's or service's tool style writes, so the policy's vocabularies have work
to do.
"""

from __future__ import annotations

import numpy as np

from pipelines.synthetic.arrays import STR

# Environments are generated as codes; the raw names come from per-service styles.
DEV, TEST, STAGING, PRODUCTION = 0, 1, 2, 3
CANONICAL_ENVS = np.array(["dev", "test", "staging", "production"], dtype=STR)

# Deployment status codes.
SUCCEEDED, FAILED, ROLLED_BACK = 0, 1, 2
DEPLOY_STATUS = np.array(["succeeded", "failed", "rolled_back"], dtype=STR)

# Release outcome codes (what happens to its first production deployment).
CLEAN, FAILED_ONCE, ROLLBACK, HOTFIX = 0, 1, 2, 3

# Status codes; the raw name depends on the team's tracker style.
NEW, TRIAGED, IN_PROGRESS, RESOLVED, CLOSED, DEFERRED, REOPENED = range(7)
STATUS_RAW = np.array(
    [
        ["Open", "Triaged", "In Progress", "Resolved", "Closed", "Deferred", "Reopened"],
        # A lighter workflow with no triage or closing step.
        ["To Do", "To Do", "In Progress", "Done", "Done", "On Hold", "To Do"],
    ],
    dtype=STR,
)
CLASSIC, SIMPLE = 0, 1

# Resolution codes.
FIXED, DUPLICATE, WONT_FIX, CANNOT_REPRODUCE = range(4)
RESOLUTION_RAW = np.array(
    [["Fixed", "Duplicate", "Won't Fix", "Cannot Reproduce"], ["Done", "Duplicate", "Won't Do", "Cannot Reproduce"]],
    dtype=STR,
)

# [style, severity S1..S4, variant]: the raw priority names each tracker uses.
SEVERITY_RAW = np.array(
    [
        [["Blocker", "Critical"], ["Major", "Major"], ["Medium", "Normal"], ["Minor", "Trivial"]],
        [["P1", "P1"], ["P2", "P2"], ["P3", "P3"], ["P4", "P4"]],
        [["Highest", "Critical"], ["High", "High"], ["Medium", "Medium"], ["Low", "Lowest"]],
        [["Sev1", "SEV-1"], ["Sev2", "Sev2"], ["Sev3", "Sev3"], ["Sev4", "Sev4"]],
    ],
    dtype=STR,
)
UNKNOWN_SEVERITIES = np.array(["Urgent!", "ASAP"], dtype=STR)
INCIDENT_SEVERITY_RAW = np.array(
    [["SEV-1", "SEV-2", "SEV-3", "SEV-4"], ["P1", "P2", "P3", "P4"], ["Sev1", "Sev2", "Sev3", "Sev4"]], dtype=STR
)

# [style, env dev..production, variant]: raw environment names per service.
ENV_RAW = np.array(
    [
        [["dev", "dev"], ["qa", "qa"], ["stg", "staging"], ["prod", "prod"]],
        [["dev", "dev"], ["test", "test"], ["staging", "staging"], ["production", "production"]],
        [["dev", "development"], ["qa", "test"], ["uat", "uat"], ["prd", "prd"]],
        [["dev", "dev"], ["test", "qa"], ["stg", "preprod"], ["live", "prod"]],
    ],
    dtype=STR,
)
