"""Recognise an export file by its content and turn it into something loadable.

Order of evidence: a byte-order mark or NUL bytes (encoding, binary), then the
first non-blank character (`{`/`[` JSON, `<` XML), then text formats (LCOV),
then the CSV header (a canonical entity, a Jira export, duplicate pairs).
Every refusal names what was found and what would make the file loadable.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from xml.etree import ElementTree

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from pipelines.defs.ingest.adapters import (
    bugzilla,
    cobertura,
    coverage_py,
    duplicate_links_csv,
    github,
    gitlab,
    go_cover,
    jacoco,
    jira_csv,
    jira_json,
    junit,
    lcov,
    opsgenie,
    pagerduty,
)
from pipelines.defs.ingest.canonical import Entity, detect_entity

ADAPTERS: tuple[ModuleType, ...] = (
    jira_json, github, pagerduty, gitlab, coverage_py, opsgenie, bugzilla,  # json
    junit, cobertura, jacoco,  # xml
    lcov, go_cover, jira_csv, duplicate_links_csv,  # text
)
HEAD_BYTES = 1 << 16
CHUNK = 1 << 20
# Documentation beside the exports: these exact names with any extension (`LICENSE`,
# `README.txt`), and Markdown. Only exact names: `license-server_defects.csv` is an export.
DOC_NAMES = frozenset({"readme", "notice", "license", "licence", "changelog"})


class Rejected(Exception):
    """The file cannot be loaded at all; the message is the reason shown to the user."""

    def __init__(self, message: str, format: str = "unknown") -> None:
        super().__init__(message)
        self.format = format


@dataclass
class CanonicalCsv:
    entity: Entity
    header: list[str]
    encoding: str  # for DuckDB's read_csv


@dataclass
class AdapterInput:
    adapter: ModuleType
    doc: Any


def is_documentation(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".md") or name.split(".", 1)[0] in DOC_NAMES


def _encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise Rejected("binary data, not a text export (NUL bytes in the first 64 KiB): "
                       "is this a compressed or spreadsheet file? Export CSV, JSON or XML instead")
    return "utf-8"


def scan(path: Path) -> str:
    """Check, streaming, that the whole file decodes; return its encoding."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        if not head:
            raise Rejected("empty file (0 bytes)")
        encoding = _encoding(head)
        decoder = codecs.getincrementaldecoder(encoding)()
        offset, line = 0, 1
        chunk = head
        while chunk:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = offset + exc.start
                line += chunk[: exc.start].count(b"\n")
                byte = chunk[exc.start]
                raise Rejected(
                    f"not valid {encoding.upper()} text: byte 0x{byte:02x} at offset {at} (line {line}); "
                    + ("it looks like Latin-1/Windows-1252: re-export as UTF-8"
                       if byte >= 0x80 and encoding == "utf-8" else "re-export as UTF-8")
                ) from None
            offset += len(chunk)
            line += chunk.count(b"\n")
            chunk = handle.read(CHUNK)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise Rejected(f"not valid {encoding.upper()} text: the file ends in the middle of a character "
                           "(truncated?)") from None
    return encoding


def _first_char(text: str) -> str:
    stripped = text.lstrip("\ufeff \t\r\n")
    return stripped[:1]


def _json(path: Path, encoding: str) -> AdapterInput:
    text = path.read_text(encoding=encoding)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip())  # the parser ran out of text, not into bad text
        raise Rejected(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
                       + (" (the file is truncated)" if truncated else ""), "json") from None
    for adapter in ADAPTERS:
        if adapter.KIND == "json" and adapter.matches(doc):
            return AdapterInput(adapter, doc)
    shape = (f"an object with keys {', '.join(sorted(doc)[:8])}" if isinstance(doc, dict)
             else f"an array of {len(doc)}" if isinstance(doc, list) else type(doc).__name__)
    raise Rejected(f"unknown JSON format ({shape}): expected a Jira search response, GitHub issues, "
                   "PagerDuty or Opsgenie incidents, GitLab deployments, Bugzilla bugs or a coverage.py report", "json")


def _parse_xml(path: Path, encoding: str) -> Any:
    """The document's root element, parsed safely.

    Entities (an XML bomb, external references) can only be declared in a
    document type declaration: a file with one goes through defusedxml, which
    refuses them. The others go through the standard library's C parser (the
    same expat, the same tree), several times faster than defusedxml's
    parser, which hands every element to Python.
    """
    if "<!DOCTYPE" in path.read_text(encoding=encoding):
        return SafeET.parse(str(path), forbid_dtd=False).getroot()
    return ElementTree.parse(path).getroot()


def _xml(path: Path, encoding: str) -> AdapterInput:
    try:
        root = _parse_xml(path, encoding)
    except DefusedXmlException as exc:
        raise Rejected(f"refused: the XML declares entities or external references ({type(exc).__name__}); "
                       "exports never need them and they can expand without bound (XML bomb)", "xml") from None
    except SafeET.ParseError as exc:
        line, column = exc.position
        raise Rejected(f"invalid XML at line {line} column {column}: {exc.msg if hasattr(exc, 'msg') else exc} "
                       "(truncated or not XML)", "xml") from None
    for adapter in ADAPTERS:
        if adapter.KIND == "xml" and adapter.matches(root):
            return AdapterInput(adapter, root)
    raise Rejected(f"unknown XML format (root element <{root.tag}>): expected JUnit <testsuites>/<testsuite> "
                   "or Cobertura <coverage> or JaCoCo <report>", "xml")


def detect(path: Path, encoding: str, max_document_bytes: int) -> CanonicalCsv | AdapterInput:
    """What the file is; raises Rejected with the reason when it is nothing we read."""
    with path.open("r", encoding=encoding, newline="") as handle:
        head = handle.read(HEAD_BYTES)
    first = _first_char(head)
    size = path.stat().st_size
    if first in ("{", "[", "<") and size > max_document_bytes:
        raise Rejected(f"{size / 2**20:.0f} MiB is too large for a JSON/XML export (limit "
                       f"{max_document_bytes / 2**20:.0f} MiB, read whole into memory): split it into pages")
    if first in ("{", "["):
        return _json(path, encoding)
    if first == "<":
        return _xml(path, encoding)
    for adapter in (lcov, go_cover):
        if adapter.matches(head):
            return AdapterInput(adapter, path.read_text(encoding=encoding))
    header = next(csv.reader(io.StringIO(head.lstrip("\ufeff"))), [])
    entity = detect_entity(header, path.stem) if header else None
    if entity is not None:
        return CanonicalCsv(entity, header, "utf-16" if encoding == "utf-16" else "utf-8")
    for adapter in (jira_csv, duplicate_links_csv):
        if adapter.matches(head):
            return AdapterInput(adapter, path.read_text(encoding=encoding))
    if len(header) < 2:
        raise Rejected("unknown format: not JSON, XML, LCOV or CSV with a header row, nor a Go cover profile "
                       f"(first line: {head.splitlines()[0][:80] if head.strip() else 'blank'!r})")
    raise Rejected(
        f"unknown CSV: the header ({', '.join(h.strip() for h in header[:8])}) is neither a Jira export nor a "
        "canonical CSV (e.g. defects.csv needs defect_id, title, created_at; see docs/contract.md section 1)",
        "csv",
    )
