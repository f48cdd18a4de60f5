"""Helpers shared by the adapters: field paths, labels, timestamps."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

# Keys that hold the readable value of a nested object, in preference order
# (Jira: {"name": "Blocker"}, {"value": "Yes"}; GitHub: {"title": ...}).
_READABLE = ("name", "value", "displayName", "summary", "title", "key")


def readable(value: Any) -> str | None:
    """A source value as text: objects by their readable key, lists by their first element."""
    if type(value) is str:  # most values: called millions of times on a large export
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, Mapping):
        for key in _READABLE:
            if value.get(key) not in (None, ""):
                return readable(value[key])
        return None
    if isinstance(value, (list, tuple)):
        for item in value:
            text = readable(item)
            if text:
                return text
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def resolve(record: Mapping[str, Any], path: str, names: Mapping[str, str] | None = None) -> Any:
    """The raw value at a dotted path. `names` maps display names to field ids (Jira's `names`)."""
    if names and path in names:
        path = names[path]
    if type(record) is dict and "." not in path:  # the common case, without the walk
        return record.get(path)
    current: Any = record
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            return None
    return current


def label_value(labels: Iterable[str], prefix: str) -> str | None:
    """The first label starting with `prefix` (case-insensitive), prefix removed."""
    lowered = prefix.lower()
    for label in labels:
        if label and label.lower().startswith(lowered):
            rest = label[len(prefix):].strip()
            if rest:
                return rest
    return None


def pick(
    record: Mapping[str, Any],
    paths: Iterable[str],
    labels: Iterable[str] = (),
    names: Mapping[str, str] | None = None,
) -> str | None:
    """The first non-empty value among `paths` (see `SourceMapping.fields`)."""
    for path in paths:
        if path.startswith("label:"):
            labels = labels if isinstance(labels, list) else list(labels)  # an iterator is read once
            value = label_value(labels, path[len("label:"):])
        else:
            value = readable(resolve(record, path, names))
        if value:
            return value
    return None


def join_list(values: Iterable[Any]) -> str | None:
    """A multi-valued field as the canonical `;`-separated list."""
    items = [text for text in (readable(v) for v in values) if text]
    return ";".join(items) or None


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def instant(text: Any, timezone: str = "UTC") -> datetime | None:
    """An ISO-8601 timestamp as an aware datetime, to order records within a file.

    Rows keep the source text; this is only for choosing among timestamps (the
    first acknowledgement, the latest deployment). Naive text is read in
    `timezone`, as the loader reads it; unparseable text gives None.
    """
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(timezone))
