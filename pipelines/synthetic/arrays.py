"""Numpy building blocks of the generator: tables as dicts of equal-length columns, and vectorised text."""

from __future__ import annotations

import functools

import numpy as np

Table = dict[str, np.ndarray]
STR = np.dtypes.StringDType()


def as_text(values: np.ndarray | list[str] | tuple[str, ...]) -> np.ndarray:
    """As a variable-width numpy string array (numbers are written in decimal)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.int64)
    return arr.astype(STR)


def cat(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise concatenation of string arrays and scalars."""
    return functools.reduce(np.strings.add, parts)  # type: ignore[arg-type]


def take(table: Table, idx: np.ndarray) -> Table:
    """The rows `idx` of every column."""
    return {name: col[idx] for name, col in table.items()}


def concat(parts: list[Table]) -> Table:
    """The tables' rows one after the other (every part has the first part's columns)."""
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def quantiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Like `rng.random(n)`, but evenly spread: `< p` selects round(p * n) rows, not a
    binomial count, so the small data-quality shares hold even at scale 1."""
    return (rng.permutation(n) + 0.5) / max(n, 1)


def capitalised(text: np.ndarray) -> np.ndarray:
    """First letter upper-cased, the rest as is."""
    return cat(np.strings.upper(np.strings.slice(text, 0, 1)), np.strings.slice(text, 1, None))


def around(pairs: tuple[tuple[str, str], ...], which: np.ndarray, middle: np.ndarray) -> np.ndarray:
    """`prefix + middle + suffix` with the (prefix, suffix) pair chosen per element."""
    return cat(as_text([p[0] for p in pairs])[which], middle, as_text([p[1] for p in pairs])[which])


def random_shas(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random 40-hex-digit strings (git-style shas)."""
    if n == 0:
        return np.array([], dtype=STR)
    text = rng.bytes(20 * n).hex().encode("ascii")
    return np.strings.decode(np.frombuffer(text, dtype="S40"), "ascii").astype(STR)


def numbered(prefix: str, n: int, width: int) -> np.ndarray:
    """`prefix` + 1..n zero-padded to `width` digits (more when n needs them): `dep-000001`."""
    width = max(width, len(str(n)))
    return cat(prefix, np.strings.zfill(as_text(np.arange(1, n + 1)), width))


def group_member(sorted_groups: np.ndarray, groups: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A random position inside each query's group of a sorted array (-1 when empty), and the group sizes."""
    lo = np.searchsorted(sorted_groups, groups, "left")
    size = np.searchsorted(sorted_groups, groups, "right") - lo
    pos = lo + np.minimum(np.floor(u * size).astype(np.int64), np.maximum(size - 1, 0))
    return np.where(size > 0, pos, -1), size
