"""Stack signatures and their traces: defects that share a signature share a stack.

Each service has SIGNATURES_PER_SERVICE signatures (component, error, two
frames' functions and line numbers, the action that triggers it);
`stack_traces` writes a defect's signature as a Python traceback or a Java
stack trace, by the service's language.
"""

from __future__ import annotations

import numpy as np

from pipelines.synthetic.arrays import STR, Table, as_text, capitalised, cat

# Stack signatures: [language][error] -> exception, message head, message tail, short name.
ERRORS = {
    "python": (
        ("KeyError", "'order_", "'", "KeyError"),
        ("ValueError", "invalid literal for int() with base 10: '", "x'", "ValueError"),
        ("TimeoutError", "upstream did not respond within 30s (request ", ")", "Timeout"),
        ("AttributeError", "'NoneType' object has no attribute 'amount' (item ", ")", "AttributeError"),
        ("ZeroDivisionError", "division by zero (batch ", ")", "ZeroDivisionError"),
        ("decimal.InvalidOperation", "[<class 'decimal.ConversionSyntax'>] for value ", "", "InvalidOperation"),
    ),
    "java": (
        (
            "java.lang.NullPointerException",
            'Cannot invoke "Order.getTotal()" because "order" is null (id ', ")", "NullPointerException",
        ),
        ("java.lang.IllegalStateException", "Cart ", " already checked out", "IllegalStateException"),
        ("java.sql.SQLTimeoutException", "Query timed out after 30000 ms, statement ", "", "SQLTimeoutException"),
        ("java.lang.ArithmeticException", "/ by zero in batch ", "", "ArithmeticException"),
        (
            "java.util.ConcurrentModificationException",
            "modified during iteration, size ", "", "ConcurrentModificationException",
        ),
        ("java.lang.IllegalArgumentException", "Invalid quantity: -", "", "IllegalArgumentException"),
    ),
}
N_ERRORS = 6
PY_FUNCS = ("render", "charge", "apply_discount", "load", "commit", "serialize", "validate", "handle_request")
JAVA_FUNCS = ("render", "charge", "applyDiscount", "load", "commit", "serialize", "validate", "handleRequest")
HELPER_MODULES = ("db", "client", "models", "utils", "cache", "events")
# With ~35 traced defects per service, 100 signatures of Zipf-like (0.7)
# popularity repeat about a quarter of them: recurrences, not the norm.
SIGNATURES_PER_SERVICE = 100
PY_LIB_FRAME = (
    '  File "/usr/local/lib/python3.11/site-packages/sqlalchemy/engine/base.py", line 1969, in _exec_single_context'
)
JAVA_LIB_FRAME = "\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)"

TRACE_ACTIONS = (
    "when saving a draft", "on checkout with a coupon", "after session timeout", "during the nightly export",
    "for multi-currency orders", "on mobile Safari", "under load", "when the list is empty",
)


def signatures(rng: np.random.Generator, n_svc: int) -> Table:
    """Per service SIGNATURES_PER_SERVICE signatures, each column shaped (service, signature)."""
    shape = (n_svc, SIGNATURES_PER_SERVICE)
    return {
        "component": rng.integers(0, 4, shape),
        "error": rng.integers(0, N_ERRORS, shape),
        "func1": rng.integers(0, len(PY_FUNCS), shape),
        "func2": rng.integers(0, len(PY_FUNCS), shape),
        "helper": rng.integers(0, len(HELPER_MODULES), shape),
        "line1": rng.integers(40, 600, shape),
        "line2": rng.integers(20, 400, shape),
        "action": rng.integers(0, len(TRACE_ACTIONS), shape),
    }


def stack_traces(d: Table, svc: Table) -> np.ndarray:
    """Each defect's trace in its service's language; empty for defects without a signature."""
    n = len(d["svc"])
    java = svc["java"][d["svc"]]
    err = d["error"] + np.where(java, N_ERRORS, 0)
    table = ERRORS["python"] + ERRORS["java"]
    exc, head, tail = (as_text([e[k] for e in table])[err] for k in range(3))
    detail = as_text(1000 + (d["line1"] * 7919 + d["line2"] * 104729) % 90000)  # an id that varies per report
    message = cat(head, detail, tail)
    name = svc["name"][d["svc"]]
    comp = svc["components"][d["svc"], d["component"]]
    helper = as_text(HELPER_MODULES)[d["helper"]]
    py_f1, py_f2 = as_text(PY_FUNCS)[d["func1"]], as_text(PY_FUNCS)[d["func2"]]
    l1, l2 = as_text(d["line1"]), as_text(d["line2"])
    python = cat(
        "Traceback (most recent call last):\n",
        '  File "/srv/app/', name, "/", comp, '.py", line ', l1, ", in ", py_f1, "\n",
        '  File "/srv/app/', name, "/", helper, '.py", line ', l2, ", in ", py_f2, "\n",
        PY_LIB_FRAME, "\n", exc, ": ", message,
    )
    comp_class = cat(capitalised(comp), "Service")
    helper_class = cat(capitalised(helper), "Repository")
    jv_f1, jv_f2 = as_text(JAVA_FUNCS)[d["func1"]], as_text(JAVA_FUNCS)[d["func2"]]
    package = cat("com.example.", np.strings.replace(name, "-", ""), ".")
    java_trace = cat(
        exc, ": ", message, "\n",
        "\tat ", package, comp_class, ".", jv_f1, "(", comp_class, ".java:", l1, ")\n",
        "\tat ", package, helper_class, ".", jv_f2, "(", helper_class, ".java:", l2, ")\n",
        JAVA_LIB_FRAME,
    )
    trace = np.where(java, java_trace, python)
    return np.where(d["sig"] >= 0, trace, np.full(n, "", dtype=STR)).astype(STR)
