"""`defectflow-dbt`: dbt as a child process that ends with the build that started it.

dagster-dbt runs dbt as a subprocess; when the build's process is killed outright (kill -9,
out of memory) nothing tells dbt, which then runs on for as long as its models take, writing a
build copy nobody will publish. On Linux the kernel can signal a child when its parent dies
(PR_SET_PDEATHSIG); the setting survives exec, so this sets it and becomes dbt.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def main() -> None:
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the build died before the signal was armed
            sys.exit(128 + signal.SIGTERM)
    dbt = Path(sys.executable).parent / "dbt"
    os.execv(dbt, [str(dbt), *sys.argv[1:]])
