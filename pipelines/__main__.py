"""`python -m pipelines` is the same command as `defectflow`."""

from pipelines.cli import main

raise SystemExit(main())
