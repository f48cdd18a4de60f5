"""Compare two warehouses table by table: are the numbers the same?

    python benchmarks/compare_marts.py BEFORE.duckdb AFTER.duckdb
        [--schemas marts,audit,history,intermediate] [--ignore built_at]
        [--digits 9] [--show 5]

Every table of the given schemas in either warehouse is compared as a
multiset of rows with `except all` in both directions, on the columns both
sides have; a table on one side may be a view on the other (a model whose
materialisation changed). Views on both sides are left out: they are
queries over the tables compared. Columns
that say when a build ran (`--ignore`, default `built_at`) differ between any
two builds and are left out. With `--digits N`, floating-point columns are
compared at N significant digits (a sum of doubles may differ in the last
bit when its order changes); without it, exactly. The exit status is 1 when
any table differs, is missing on one side, or has different columns.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str


@dataclass(frozen=True)
class Outcome:
    table: str
    rows_before: int
    rows_after: int
    only_before: list[tuple]
    only_after: list[tuple]
    count_only_before: int
    count_only_after: int
    notes: list[str]

    @property
    def identical(self) -> bool:
        return not (self.count_only_before or self.count_only_after or self.notes)


def _quote(identifier: str) -> str:
    """An identifier as SQL text: names come from the warehouses' catalogs and cannot be bound."""
    return '"' + identifier.replace('"', '""') + '"'


def _relations(con: duckdb.DuckDBPyConnection, database: str, schemas: list[str]) -> dict[tuple[str, str], bool]:
    """(schema, name) -> whether it is a table (else a view)."""
    rows = con.execute(
        "select schema_name, table_name, true from duckdb_tables()"
        " where database_name = $database and list_contains($schemas, schema_name)"
        " union all select schema_name, view_name, false from duckdb_views()"
        " where database_name = $database and list_contains($schemas, schema_name) and not internal",
        {"database": database, "schemas": schemas},
    ).fetchall()
    return {(schema, name): is_table for schema, name, is_table in rows}


def _columns(con: duckdb.DuckDBPyConnection, database: str, schema: str, table: str) -> list[Column]:
    rows = con.execute(
        "select column_name, data_type from duckdb_columns()"
        " where database_name = ? and schema_name = ? and table_name = ? order by column_index",
        [database, schema, table],
    ).fetchall()
    return [Column(name, data_type) for name, data_type in rows]


def _expression(column: Column, digits: int | None) -> str:
    """The column as compared: floats printed at `digits` significant digits when asked."""
    if digits is not None and column.data_type in FLOAT_TYPES:
        return "printf($float_format, " + _quote(column.name) + ") as " + _quote(column.name)
    return _quote(column.name)


def _difference(con: duckdb.DuckDBPyConnection, select_left: str, select_right: str,
                parameters: dict[str, str], show: int) -> tuple[int, list[tuple]]:
    """How many rows of the left are not in the right (as multisets), and the first few of them."""
    rows = con.execute(
        "select *, count(*) over () from (" + select_left + " except all " + select_right + ") limit $show",
        {**parameters, "show": show},
    ).fetchall()
    return (rows[0][-1] if rows else 0), [row[:-1] for row in rows]


def compare_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, digits: int | None,
                  ignore: set[str], show: int) -> Outcome:
    before = {c.name: c for c in _columns(con, "before", schema, table)}
    after = {c.name: c for c in _columns(con, "after", schema, table)}
    notes = [f"column {name} only {side}" for side, names in (("before", before.keys() - after.keys()),
                                                             ("after", after.keys() - before.keys()))
             for name in sorted(names)]
    notes += [f"column {name}: {before[name].data_type} before, {after[name].data_type} after"
              for name in before if name in after and before[name].data_type != after[name].data_type]
    shared = [c for name, c in before.items() if name in after and name not in ignore]
    select_list = ", ".join(_expression(c, digits) for c in shared)
    relation = {side: _quote(side) + "." + _quote(schema) + "." + _quote(table) for side in ("before", "after")}
    selects = {side: "select " + select_list + " from " + relation[side] for side in relation}
    rounded = digits is not None and any(c.data_type in FLOAT_TYPES for c in shared)
    parameters = {"float_format": f"%.{digits - 1}e"} if rounded else {}
    counts = {side: con.execute("select count(*) from " + relation[side]).fetchone()[0] for side in relation}
    count_before, only_before = _difference(con, selects["before"], selects["after"], parameters, show)
    count_after, only_after = _difference(con, selects["after"], selects["before"], parameters, show)
    return Outcome(f"{schema}.{table}", counts["before"], counts["after"], only_before, only_after,
                   count_before, count_after, notes)


def _print(outcome: Outcome) -> None:
    rows = (f"{outcome.rows_before:,}" if outcome.rows_before == outcome.rows_after
            else f"{outcome.rows_before:,} -> {outcome.rows_after:,}")
    verdict = "identical" if outcome.identical else (
        f"DIFFERENT: {outcome.count_only_before:,} rows only before, {outcome.count_only_after:,} only after")
    print(f"{outcome.table:55s} {rows:>24s} rows  {verdict}")
    for note in outcome.notes:
        print(f"    {note}")
    for label, rows_shown in (("before only", outcome.only_before), ("after only ", outcome.only_after)):
        for row in rows_shown:
            print(f"    {label}: {row}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--schemas", default="marts,audit,history,intermediate")
    parser.add_argument("--ignore", default="built_at", help="columns left out, comma-separated")
    parser.add_argument("--digits", type=int, default=None, help="significant digits of float columns")
    parser.add_argument("--show", type=int, default=5, help="differing rows printed per side")
    args = parser.parse_args()
    schemas = args.schemas.split(",")
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for side in ("before", "after"):
        # the alias is one of the two fixed names above
        con.execute("attach ? as " + side + " (read_only)", [str(getattr(args, side))])
    relations = {side: _relations(con, side, schemas) for side in ("before", "after")}
    tables = sorted({key for side in relations.values() for key, is_table in side.items() if is_table})
    differing = 0
    for schema, table in tables:
        missing = [side for side in ("before", "after") if (schema, table) not in relations[side]]
        if missing:
            print(f"{schema + '.' + table:55s} missing {missing[0]}")
            differing += 1
            continue
        outcome = compare_table(con, schema, table, args.digits, set(args.ignore.split(",")), args.show)
        _print(outcome)
        differing += not outcome.identical
    print(f"{len(tables)} tables compared, {differing} differ"
          + (f" (floats at {args.digits} significant digits)" if args.digits else " (exactly)"))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
