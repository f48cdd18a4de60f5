"""What no single file can decide: judged over every file of the build, after loading.

A Jira search comes in pages, one file each. Whether the pages cover the
search, and which category a localised status name has (stated by any status
object, in any page), depend on the other files. Adapters state what each file
says (`Parsed.facts`) into the tables of `facts.py`, which are kept and forgotten per
file like its rows (`manifest.py`); `judge` then decides over all of them at
every build. So one file and the same issues split into pages build the same
warehouse, and a page kept from an earlier build learns from a new one.
"""

from __future__ import annotations

import duckdb

from pipelines.defs.ingest.adapters import jira_json
from pipelines.defs.ingest.canonical import DEFECTS

# The load report's note on a page of an incomplete search. The note is the message's last part
# and has no `;`: `judge` removes the previous build's note before deciding again.
_PAGE_NOTE_START = "one page of an incomplete search"
_PAGE_NOTE = r"(; )?" + _PAGE_NOTE_START + r"[^;]*$"

# A name the status objects give several categories takes the most frequent, then the first key
# alphabetically: a build-wide count, so the same issues give the same answer however they are paged.
_CATEGORIES = """
create or replace temp table _jira_categories as
select status, first(status_category order by seen desc, status_category) as status_category
from (select status, status_category, sum(seen) as seen from raw.jira_status_categories group by all)
group by status
"""

_HISTORY = """
update raw.defect_status_history as h set
    from_status_category = (select c.status_category from _jira_categories as c where c.status = h.from_status),
    to_status_category = (select c.status_category from _jira_categories as c where c.status = h.to_status)
where h.source_file in (select source_file from raw.load_report where format = ?)
"""

# Pages of one search, by start: a page starting beyond what the pages before it reach leaves a
# gap, and the last must reach `total`.
_INCOMPLETE = """
create or replace temp table _incomplete_pages as
with pages as (
    select source_file, folder, total, start_at, start_at + issues as end_at from raw.jira_pages
),
reach as (
    select *, coalesce(max(end_at) over (
        partition by folder, total order by start_at, end_at rows between unbounded preceding and 1 preceding
    ), 0) as reached
    from pages
),
incomplete as (
    select folder, total from reach group by all having bool_or(start_at > reached) or max(end_at) < total
)
select p.source_file,
    ? || ': issues ' || (p.start_at + 1) || '-' || p.end_at || ' of ' || p.total
        || ', and the pages beside it do not cover all ' || p.total || ' (export every page)' as note
from pages as p join incomplete using (folder, total)
"""

_CLEAR_NOTES = """
update raw.load_report set message = regexp_replace(message, ?, '')
where format = ? and regexp_matches(message, ?)
"""

_ADD_NOTES = """
update raw.load_report as r set message = concat_ws('; ', nullif(r.message, ''), i.note)
from _incomplete_pages as i
where r.source_file = i.source_file and r.entity = ?
"""


def judge(con: duckdb.DuckDBPyConnection) -> None:
    """Status categories of the Jira files' history and their incomplete-search notes, from every file."""
    con.execute(_CATEGORIES)
    con.execute(_HISTORY, [jira_json.NAME])
    con.execute(_INCOMPLETE, [_PAGE_NOTE_START])
    con.execute(_CLEAR_NOTES, [_PAGE_NOTE, jira_json.NAME, _PAGE_NOTE])
    # a file's notes go on its first entity's report (loading.load_batch): for Jira, the defects
    con.execute(_ADD_NOTES, [DEFECTS.name])
    con.execute("drop table _jira_categories; drop table _incomplete_pages")
