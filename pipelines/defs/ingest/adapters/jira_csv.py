"""Jira "Export CSV" (all or current fields) -> defects.

Jira writes a multi-valued field as the same column name repeated, one value
per column (`Labels,Labels,Labels`); the first non-empty value is the primary
one for single-valued canonical columns, and labels keep them all. Dates are in
the exporting user's format and zone without an offset (`30/Sep/21 17:20`,
`30/Sep/2021 5:20 PM`): they become naive ISO text, read in
`policy.default_timezone`. Everything is column-wise pandas, no per-row Python.
"""

from __future__ import annotations

import csv
import io

import pandas as pd

from pipelines.defs.ingest.adapters.base import FormatError, ParseContext, Parsed, Row
from pipelines.defs.ingest.canonical import DEFECTS

NAME = "jira csv"
SOURCE = "jira_csv"
KIND = "text"

# Columns of every Jira CSV export; a policy mapping for the column still wins.
_SYSTEM_COLUMNS: dict[str, list[str]] = {
    "defect_id": ["Issue key", "Issue id"],
    "title": ["Summary"],
    "description": ["Description"],
    "status": ["Status"],
    "resolution": ["Resolution"],
    "type": ["Issue Type"],
    "created_at": ["Created"],
    "resolved_at": ["Resolved"],
    "source_updated_at": ["Updated"],
}
_TIMESTAMPS = [c.name for c in DEFECTS.columns if c.type == "timestamp"]
# Two-digit years first: `%Y` would read `21` as the year 21.
_DATE_FORMATS = ("%d/%b/%y %H:%M", "%d/%b/%y %I:%M %p", "%d/%b/%Y %H:%M", "%d/%b/%Y %I:%M %p")


def header_cells(text: str) -> list[str]:
    """The header row's cells, read from the first line only (enough to recognise a format)."""
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    return [cell.strip() for cell in next(csv.reader([first_line]), [])]


def matches(text: str) -> bool:
    header = header_cells(text)
    return "Summary" in header and ("Issue key" in header or "Issue id" in header)


class _Columns:
    """The export's cells by header name (case-insensitive), repeated headers together."""

    def __init__(self, header: list[str], body: pd.DataFrame) -> None:
        self._body = body
        self._positions: dict[str, list[int]] = {}
        for position, name in enumerate(header):
            self._positions.setdefault(name.casefold(), []).append(position)
        self._labels = self.all("Labels")

    def all(self, name: str) -> pd.DataFrame:
        """Every column named `name` (none: an empty frame)."""
        return self._body.iloc[:, self._positions.get(name.casefold(), [])]

    def first(self, name: str) -> pd.Series:
        return _first_value(self.all(name))

    def label(self, prefix: str) -> pd.Series:
        """The first label starting with `prefix` (case-insensitive), prefix removed."""
        lowered = self._labels.apply(lambda column: column.str.casefold())
        rest = self._labels.apply(lambda column: column.str[len(prefix):].str.strip())
        return _first_value(rest.where(lowered.apply(lambda c: c.str.startswith(prefix.casefold()))))

    def pick(self, paths: list[str]) -> pd.Series:
        """The first non-empty value among `paths` (column names or `label:<prefix>`)."""
        result = pd.Series(pd.NA, index=self._body.index, dtype=object)
        for path in paths:
            found = self.label(path[len("label:"):]) if path.startswith("label:") else self.first(path)
            result = result.fillna(found)
        return result


def _first_value(frame: pd.DataFrame) -> pd.Series:
    """Per row, the first non-empty cell of `frame`'s columns (column by column: bfill(axis=1) is per row)."""
    result = pd.Series(pd.NA, index=frame.index, dtype=object)
    for position in range(frame.shape[1]):
        result = result.fillna(frame.iloc[:, position].replace("", pd.NA).astype(object))
    return result


def _joined(frame: pd.DataFrame) -> pd.Series:
    """Every non-empty value of the repeated columns, `;`-separated (empty: NA)."""
    if frame.shape[1] == 0:
        return pd.Series(pd.NA, index=frame.index, dtype=object)
    parts = [frame.iloc[:, i].fillna("") for i in range(frame.shape[1])]
    text = parts[0].str.cat(parts[1:], sep=";").str.replace(r";{2,}", ";", regex=True).str.strip(";")
    return text.replace("", pd.NA).astype(object)


def jira_dates(values: pd.Series) -> pd.Series:
    """`30/Sep/21 17:20` -> `2021-09-30T17:20:00`; text in no known format stays as it is."""
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[s]")
    for fmt in _DATE_FORMATS:
        parsed = parsed.fillna(pd.to_datetime(values, format=fmt, errors="coerce"))
    return parsed.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object).where(parsed.notna(), values)


def read_cells(text: str, path: object) -> tuple[list[str], pd.DataFrame]:
    """The header and the body as text cells, stripped, empty cells "" (repeated headers kept)."""
    try:
        table = pd.read_csv(io.StringIO(text.lstrip("\ufeff")), header=None, dtype=str,
                            keep_default_na=False, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FormatError(f"{path}: not a readable CSV: {exc}") from exc
    header = [str(cell).strip() for cell in table.iloc[0]]
    body = table.iloc[1:].reset_index(drop=True).fillna("")
    return header, body.apply(lambda column: column.str.strip())


def parse(text: str, ctx: ParseContext) -> Parsed:
    header, body = read_cells(text, ctx.path)
    columns = _Columns(header, body)
    frame = pd.DataFrame(index=body.index)
    for column in DEFECTS.column_names:
        if column == "labels":
            frame[column] = _joined(columns.all("Labels"))
            continue
        paths = ctx.mapping.fields.get(column) or _SYSTEM_COLUMNS.get(column, [])
        frame[column] = columns.pick(paths)
    for column in _TIMESTAMPS:
        frame[column] = jira_dates(frame[column])
    rows: list[Row] = frame.astype(object).where(frame.notna(), None).to_dict("records")
    notes = []
    if rows and frame["service"].isna().all():
        # Exports of one project often leave out the project columns; without a
        # service most metrics come out empty.
        notes.append("no service in any row: add the export's column to the policy's "
                     "sources.jira_csv.fields.service")
    return Parsed(tables={"defects": rows}, notes=notes)
