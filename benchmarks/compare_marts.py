"""Compare two warehouses table by table: are the numbers the same?

    python benchmarks/compare_marts.py BEFORE.duckdb AFTER.duckdb
        [--schemas marts,audit,history,intermediate] [--ignore built_at]
        [--digits 9] [--rel-tol 1e-9] [--loose-types] [--show 5]

Every table of the given schemas in either warehouse is compared as a
multiset of rows with `except all` in both directions, on the columns both
sides have; a table on one side may be a view on the other (a model whose
materialisation changed). Views on both sides are left out: they are
queries over the tables compared. Columns
that say when a build ran (`--ignore`, default `built_at`) differ between any
two builds and are left out. With `--digits N`, floating-point columns are
compared at N significant digits (a sum of doubles may differ in the last
bit when its order changes); without it, exactly. With `--rel-tol R` a row
only on one side that pairs with a row only on the other whose floats differ
by at most R relative (and whose other columns are equal) is not a
difference; rounding alone can split two values a hair apart. With
`--loose-types` (two engines: `bigint` against `int`, `decimal` against
`double`) the values are compared, not the type names; timestamps are always
compared as instants (`timestamp` read as UTC). A differing row pair is shown
column by column: the columns both rows agree on as its key, then each
differing column with both values. The exit status is 1 when any table
differs, is missing on one side, or has different columns.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")
#: A relative difference is measured against at least this, so 0 against 1e-300 is equal.
_TINY = 1e-300
_PAIRED = 500


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
    columns: tuple[str, ...] = ()

    @property
    def identical(self) -> bool:
        return not (self.count_only_before or self.count_only_after or self.notes)

    def diff_lines(self, show: int = 5) -> list[str]:
        """The first `show` differing rows, each paired with the row of the other side that agrees
        with it on the most leading columns (a table's key columns come first), then on the most
        columns: `table {key}: column before -> after` for each column that differs."""
        lines = list(self.notes)
        unpaired_after = list(self.only_after)
        for row in self.only_before[:show]:
            if not unpaired_after:
                lines.append(f"{self.table}: row only before: {dict(zip(self.columns, row, strict=True))}")
                continue
            other = max(unpaired_after, key=lambda candidate: _likeness(row, candidate))
            unpaired_after.remove(other)
            key = {c: a for c, a, b in zip(self.columns, row, other, strict=True) if a == b}
            shown_key = dict(list(key.items())[:4])
            for column, a, b in zip(self.columns, row, other, strict=True):
                if a != b:
                    lines.append(f"{self.table} {shown_key}: {column} {a!r} before, {b!r} after")
        if len(self.only_before) <= show:
            lines += [f"{self.table}: row only after: {dict(zip(self.columns, row, strict=True))}"
                      for row in unpaired_after[:show]]
        if self.count_only_before > show or self.count_only_after > show:
            lines.append(f"{self.table}: {self.count_only_before} rows only before, {self.count_only_after} "
                         f"only after in all (the first {show} shown)")
        return lines


def _likeness(row: tuple, other: tuple) -> tuple[int, int]:
    leading = next((i for i, (a, b) in enumerate(zip(row, other, strict=True)) if a != b), len(row))
    return leading, sum(a == b for a, b in zip(row, other, strict=True))


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


def _expression(column: Column, digits: int | None, other: Column | None = None) -> str:
    """The column as compared: floats printed at `digits` significant digits when asked,
    timestamps as instants (a `timestamp` without zone read as UTC). `other`: the same column on
    the other side, when its type may differ (`--loose-types`): a float on either side makes
    both floats."""
    types = {column.data_type, (other or column).data_type}
    name = _quote(column.name)
    if types & set(FLOAT_TYPES) and digits is not None:
        return "printf($float_format, cast(" + name + " as double)) as " + name
    if types & set(FLOAT_TYPES):
        return "cast(" + name + " as double) as " + name
    if all(t.startswith("TIMESTAMP") for t in types):
        return "cast(" + name + " as timestamptz) as " + name
    return name


def _within(a: object, b: object, rel_tol: float) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return abs(x - y) <= rel_tol * max(abs(x), abs(y), _TINY)


def _forgive_near(only_before: list[tuple], only_after: list[tuple], rel_tol: float) -> tuple[list, list]:
    """Drop the row pairs that are equal within `rel_tol` (floats rounded apart)."""
    left, right = list(only_before), list(only_after)
    for row in list(left):
        match = next((other for other in right
                      if all(_within(a, b, rel_tol) for a, b in zip(row, other, strict=True))), None)
        if match is not None:
            left.remove(row)
            right.remove(match)
    return left, right


def _difference(con: duckdb.DuckDBPyConnection, select_left: str, select_right: str,
                parameters: dict[str, str], show: int) -> tuple[int, list[tuple]]:
    """How many rows of the left are not in the right (as multisets), and the first few of them."""
    rows = con.execute(
        # sorted, so that the rows of the two sides that differ in a late column line up for pairing
        "select *, count(*) over () from (" + select_left + " except all " + select_right + ")"
        " order by all limit $show",
        {**parameters, "show": show},
    ).fetchall()
    return (rows[0][-1] if rows else 0), [row[:-1] for row in rows]


def compare_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, digits: int | None,
                  ignore: set[str], show: int, rel_tol: float | None = None, loose_types: bool = False) -> Outcome:
    before = {c.name: c for c in _columns(con, "before", schema, table)}
    after = {c.name: c for c in _columns(con, "after", schema, table)}
    notes = [f"column {name} only {side}" for side, names in (("before", before.keys() - after.keys()),
                                                             ("after", after.keys() - before.keys()))
             for name in sorted(names)]
    if not loose_types:
        notes += [f"column {name}: {before[name].data_type} before, {after[name].data_type} after"
                  for name in before if name in after and before[name].data_type != after[name].data_type]
    shared = [c for name, c in before.items() if name in after and name not in ignore]
    select_list = ", ".join(_expression(c, digits, after[c.name] if loose_types else None) for c in shared)
    relation = {side: _quote(side) + "." + _quote(schema) + "." + _quote(table) for side in ("before", "after")}
    selects = {side: "select " + select_list + " from " + relation[side] for side in relation}
    rounded = digits is not None and any({c.data_type, after[c.name].data_type} & set(FLOAT_TYPES) for c in shared)
    parameters = {"float_format": f"%.{digits - 1}e"} if rounded else {}
    counts = {side: con.execute("select count(*) from " + relation[side]).fetchone()[0] for side in relation}
    count_before, only_before = _difference(con, selects["before"], selects["after"], parameters, _PAIRED)
    count_after, only_after = _difference(con, selects["after"], selects["before"], parameters, _PAIRED)
    if rel_tol is not None and (only_before or only_after):
        # Near rows are paired on the exact values: read both sides' differing rows again unrounded.
        exact = {side: "select " + ", ".join(_expression(c, None, after[c.name] if loose_types else None)
                                              for c in shared) + " from " + relation[side] for side in relation}
        # At most _PAIRED rows a side are paired (in Python): more differing rows than that are a difference anyway.
        count_before, only_before = _difference(con, exact["before"], exact["after"], {}, _PAIRED)
        count_after, only_after = _difference(con, exact["after"], exact["before"], {}, _PAIRED)
        if count_before <= _PAIRED and count_after <= _PAIRED:
            only_before, only_after = _forgive_near(only_before, only_after, rel_tol)
            count_before, count_after = len(only_before), len(only_after)
    return Outcome(f"{schema}.{table}", counts["before"], counts["after"], only_before, only_after,
                   count_before, count_after, notes, tuple(c.name for c in shared))


def _print(outcome: Outcome, show: int) -> None:
    rows = (f"{outcome.rows_before:,}" if outcome.rows_before == outcome.rows_after
            else f"{outcome.rows_before:,} -> {outcome.rows_after:,}")
    verdict = "identical" if outcome.identical else (
        f"DIFFERENT: {outcome.count_only_before:,} rows only before, {outcome.count_only_after:,} only after")
    print(f"{outcome.table:55s} {rows:>24s} rows  {verdict}")
    for note in outcome.notes:
        print(f"    {note}")
    for label, rows_shown in (("before only", outcome.only_before), ("after only ", outcome.only_after)):
        for row in rows_shown[:show]:
            print(f"    {label}: {row}")


def compare_warehouses(before: Path, after: Path, schemas: list[str], digits: int | None = None,
                       ignore: frozenset[str] = frozenset({"built_at"}), show: int = 5,
                       rel_tol: float | None = None, loose_types: bool = False) -> dict[str, Outcome | str]:
    """Every table of `schemas` in either warehouse: its Outcome, or "missing before/after"."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for side, path in (("before", before), ("after", after)):
        # the alias is one of the two fixed names above
        con.execute("attach ? as " + side + " (read_only)", [str(path)])
    relations = {side: _relations(con, side, schemas) for side in ("before", "after")}
    tables = sorted({key for side in relations.values() for key, is_table in side.items() if is_table})
    outcomes: dict[str, Outcome | str] = {}
    for schema, table in tables:
        missing = [side for side in ("before", "after") if (schema, table) not in relations[side]]
        outcomes[f"{schema}.{table}"] = (f"missing {missing[0]}" if missing else compare_table(
            con, schema, table, digits, set(ignore), show, rel_tol, loose_types))
    con.close()
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--schemas", default="marts,audit,history,intermediate")
    parser.add_argument("--ignore", default="built_at", help="columns left out, comma-separated")
    parser.add_argument("--digits", type=int, default=None, help="significant digits of float columns")
    parser.add_argument("--show", type=int, default=5, help="differing rows printed per side")
    parser.add_argument("--rel-tol", type=float, default=None, help="floats equal within this relative difference")
    parser.add_argument("--loose-types", action="store_true", help="compare values, not type names (two engines)")
    args = parser.parse_args()
    outcomes = compare_warehouses(args.before, args.after, args.schemas.split(","), args.digits,
                                  frozenset(args.ignore.split(",")), args.show, args.rel_tol, args.loose_types)
    differing = 0
    for table, outcome in outcomes.items():
        if isinstance(outcome, str):
            print(f"{table:55s} {outcome}")
            differing += 1
            continue
        _print(outcome, args.show)
        differing += not outcome.identical
    print(f"{len(outcomes)} tables compared, {differing} differ"
          + (f" (floats at {args.digits} significant digits)" if args.digits
             else f" (floats within {args.rel_tol:g} relative)" if args.rel_tol is not None else " (exactly)"))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
