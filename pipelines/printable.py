"""Names from the data, made safe to print: one escaping for every line a command prints.

File, service and release names and defect ids come from exports anyone may
write. Printed as they are, a newline forges a line of its own (a `PASS` in a
gate's HOLD output) and an escape sequence rewrites the terminal. They are
stored as they are; only what reaches the console is escaped.
"""

from __future__ import annotations

import unicodedata

# C0 and C1 controls, DEL, and the Unicode line separators and bidirectional
# overrides, which reorder or break a line on a terminal just as well.
_UNPRINTABLE = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
_UNPRINTABLE |= {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
_UNPRINTABLE |= {code: f"\\u{code:04x}" for code in range(0x2000, 0x2070)
                 if unicodedata.category(chr(code)) in ("Zl", "Zp", "Cf")}


def printable(text: object) -> str:
    """`text` on one line, its control characters shown as escapes (`\\n`, `\\x1b`)."""
    return str(text).translate(_UNPRINTABLE)
