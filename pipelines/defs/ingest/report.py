"""What the ingest says about each file, and about the whole build.

A module of its own because every ingest step makes or keeps these reports:
the readers and the row rules produce a `FileReport` per file and entity, the
manifest stores them in `raw.load_report`, and the orchestration returns the
`LoadSummary` to the CLI and the Dagster asset.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FileReport:
    source_file: str
    entity: str | None
    format: str
    status: str  # loaded | rejected | skipped
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    naive_timestamps: int = 0
    message: str = ""


@dataclass
class LoadSummary:
    files: list[FileReport]  # every file of the folder, this build's and the unchanged ones
    reread: list[str] = field(default_factory=list)  # files read in this build
    removed: list[str] = field(default_factory=list)  # files gone from the folder since the last build

    @property
    def rejected_files(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "rejected"]

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)
