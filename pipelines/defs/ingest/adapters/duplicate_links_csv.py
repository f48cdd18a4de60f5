"""Duplicate pairs as a two-column CSV (`Issue id,Duplicate id`) -> defect links.

Such a file is a list of known duplicates, e.g. ground truth for duplicate
detection. Each row reads "the issue has this duplicate": the link is emitted
from the duplicate's side, `<Duplicate id> duplicates <Issue id>`. (The real
sample, HADOOP, lists most pairs both ways round: in the pairs with one side
resolved as Duplicate, that side is in either column equally often, so the
file carries no direction of its own; consumers should treat a pair as
undirected.) A cell holding several ids (`"13547000, 13396667"`) gives one
link per id.
"""

from __future__ import annotations

import pandas as pd

from pipelines.defs.ingest.adapters.base import ParseContext, Parsed, Row
from pipelines.defs.ingest.adapters.jira_csv import header_cells, read_cells

NAME = "duplicate links csv"
SOURCE = "jira_csv"
KIND = "text"

_HEADERS = {("issue id", "duplicate id"), ("issue key", "duplicate key")}


def matches(text: str) -> bool:
    return tuple(cell.casefold() for cell in header_cells(text)) in _HEADERS


def parse(text: str, ctx: ParseContext) -> Parsed:
    _, table = read_cells(text, ctx.path)
    pairs = pd.DataFrame({
        "issue": table.iloc[:, 0].str.split(","),
        "duplicate": table.iloc[:, 1].str.split(","),
    }).explode("issue").explode("duplicate")
    links = pd.DataFrame({
        "defect_id": pairs["duplicate"].str.strip(),
        "linked_defect_id": pairs["issue"].str.strip(),
        "link_type": "duplicates",
    }).astype(object)
    rows: list[Row] = links.where(links != "", None).to_dict("records")
    notes = [f"{len(rows)} duplicate links from {len(table)} rows"] if len(rows) != len(table) else []
    return Parsed(tables={"defect_links": rows}, notes=notes)
