"""Unit tests: the stack fingerprint macros (dbt_project/macros/stack_fingerprint.sql).

The macros are rendered with Jinja from the dbt macro files and run in an
in-memory DuckDB, as dbt would run them: no build. Each language has one real-
looking trace written as a template; the same fault is the template filled
with other line numbers, columns, thread and goroutine names, addresses, ids,
messages, deploy and temp paths. Expected signatures were worked out by hand
from docs/metrics.md "Stack fingerprint": the root cause's exception type,
then its top three in-app frames (module + function), innermost first; the
fingerprint is the first 16 hex digits of the signature's MD5.
"""

import hashlib
from pathlib import Path

import duckdb
import jinja2
import pytest

MACROS = Path(__file__).resolve().parent.parent / "dbt_project" / "macros"


@pytest.fixture(scope="module")
def run():
    """Evaluate a stack macro over one text: run(macro name, text) -> value."""
    source = "".join((MACROS / name).read_text(encoding="utf-8") for name in ("defectflow.sql", "stack_fingerprint.sql"))
    macros = jinja2.Environment().from_string(source).module
    con = duckdb.connect()

    def evaluate(macro: str, text: str | None):
        # The SQL is the macro's own text (a file of this repository); the trace is bound.
        return con.execute("select " + getattr(macros, macro)("$trace"), {"trace": text}).fetchone()[0]

    yield evaluate
    con.close()


def md5_16(signature: str) -> str:
    return hashlib.md5(signature.encode()).hexdigest()[:16]


def check_language(run, template: str, expected: str, same: list[dict], base: dict, other_top: dict,
                   other_type: dict) -> None:
    """The template filled with `base` has signature `expected`; filled with each of `same` it has the
    same fingerprint; with a different top in-app frame or exception type, another one."""
    trace = template.format(**base)
    assert run("stack_signature", trace) == expected
    assert run("stack_fingerprint", trace) == md5_16(expected)
    for values in same:
        assert run("stack_fingerprint", template.format(**{**base, **values})) == md5_16(expected), values
    assert run("stack_fingerprint", template.format(**{**base, **other_top})) != md5_16(expected)
    assert run("stack_fingerprint", template.format(**{**base, **other_type})) != md5_16(expected)


# JVM: a Spring controller's exception caused by a JDBC timeout. The root cause
# counts; its frames run into the enclosing exception's ("... 4 more").
# Framework frames (JDK, Spring, the Postgres driver, Hikari) are not in-app;
# the `$$Lambda` trampoline is no frame; `lambda$checkout$0` is `checkout`, and
# the CGLIB proxy is the controller itself, so repeats collapse.
JVM = """\
Exception in thread "{thread}" java.lang.IllegalStateException: Checkout of cart {cart} failed
\tat com.acme.shop.web.CartController.checkout(CartController.java:{l1})
\tat com.acme.shop.web.CartController$$EnhancerBySpringCGLIB${proxy}.checkout(<generated>)
\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:897)
\tat java.base/java.lang.Thread.run(Thread.java:833)
Caused by: {root_type}: Query timed out after {ms} ms (statement {stmt})
\tat org.postgresql.jdbc.PgStatement.executeQuery(PgStatement.java:224)
\tat com.zaxxer.hikari.pool.HikariProxyStatement.executeQuery(HikariProxyStatement.java)
\tat com.acme.shop.db.OrderRepository.{top}(OrderRepository.java:{l2})
\tat com.acme.shop.db.OrderRepository$$Lambda${n}/0x{addr}.get(Unknown Source)
\tat com.acme.shop.CartService.lambda$checkout${n}(CartService.java:{l3})
\tat java.base/java.util.Optional.map(Optional.java:260)
\tat com.acme.shop.CartService.checkout(CartService.java:{l4})
\t... 4 more
"""
JVM_BASE = {"thread": "http-nio-8080-exec-7", "cart": "c-1042", "proxy": "$a1b2c3d4", "root_type":
            "java.sql.SQLTimeoutException", "ms": "30000", "stmt": "S_17", "top": "findOpen", "l1": "88",
            "l2": "55", "n": "0", "addr": "0000000800c0b000", "l3": "121", "l4": "118"}


def test_jvm_root_cause_and_in_app_frames(run) -> None:
    check_language(
        run, JVM,
        "java.sql.SQLTimeoutException|com.acme.shop.db.OrderRepository.findOpen|com.acme.shop.CartService.checkout"
        "|com.acme.shop.web.CartController.checkout",
        same=[{"l1": "90", "l2": "61", "l3": "130", "l4": "127", "n": "3", "addr": "00000008012d4440"},
              {"thread": "pool-3-thread-12", "cart": "c-77", "proxy": "$9f8e7d6c", "ms": "5000", "stmt": "S_2"}],
        base=JVM_BASE, other_top={"top": "findByCustomer"}, other_type={"root_type": "java.sql.SQLException"})


def test_jvm_outer_exception_type_does_not_count(run) -> None:
    """Only the root cause's type is in the signature: wrapping it differently is the same fault."""
    wrapped = JVM.format(**JVM_BASE).replace("java.lang.IllegalStateException", "org.acme.CheckoutFailed")
    assert run("stack_fingerprint", wrapped) == run("stack_fingerprint", JVM.format(**JVM_BASE))
    assert run("stack_error_type", wrapped) == "java.sql.SQLTimeoutException"


# Python: `raise ... from` prints the cause first; its traceback is the root.
# Frames run innermost last, so they are read bottom up; Flask (site-packages)
# is not in-app; the second traceback's load_order repeats the first's.
PYTHON = """\
Traceback (most recent call last):
  File "{root}/shop/orders.py", line {l1}, in {top}
    return ORDERS[order_id]
           ~~~~~~^^^^^^^^^^
{root_type}: 'order_{id}'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/usr/local/lib/python3.11/site-packages/flask/app.py", line 1484, in full_dispatch_request
    rv = self.dispatch_request()
  File "{root}/shop/views.py", line {l2}, in checkout
    order = load_order(request.args["id"])
  File "{root}/shop/orders.py", line {l3}, in load_order
    raise OrderNotFound(order_id) from exc
shop.errors.OrderNotFound: order {id} not found
"""
PYTHON_BASE = {"root": "/srv/app/releases/2026-06-01", "l1": "41", "top": "load_order", "root_type": "KeyError",
               "id": "1042", "l2": "17", "l3": "43"}


def test_python_chained_traceback(run) -> None:
    check_language(
        run, PYTHON, "KeyError|orders.load_order|views.checkout",
        same=[{"l1": "52", "l2": "18", "l3": "54"},
              {"root": "/tmp/pytest-of-ci/pytest-12/test_checkout0", "id": "77"},
              {"root": r"C:\Users\ci\AppData\Local\Temp\tmpk2j3h4"}],
        base=PYTHON_BASE, other_top={"top": "fetch_order"}, other_type={"root_type": "LookupError"})


def test_python_during_handling_keeps_the_first_exception(run) -> None:
    during = PYTHON.format(**PYTHON_BASE).replace(
        "The above exception was the direct cause of the following exception:",
        "During handling of the above exception, another exception occurred:")
    assert run("stack_signature", during) == "KeyError|orders.load_order|views.checkout"


def test_pytest_reports(run) -> None:
    """pytest's long form (the JUnit fixture's) names the function on its `def` line; --tb=short on the
    location line; the innermost entry is the last."""
    long = ('def test_partial_refund_rounding():\n        refund = partial_refund(Decimal("10.00"), parts=3)\n'
            '>       assert refund == Decimal("3.34")\nE       AssertionError: assert Decimal(\'3.33\') == '
            'Decimal(\'3.34\')\n\ntests/test_refunds.py:27: AssertionError')
    assert run("stack_signature", long) == "AssertionError|test_refunds.test_partial_refund_rounding"
    short = ("tests/test_cart.py:12: in test_total\n    assert total(cart) == 3\nshop/cart.py:40: in total\n"
             "    return sum(line.price for line in cart)\nE   TypeError: unsupported operand type(s) for +: 'int'")
    assert run("stack_signature", short) == "TypeError|cart.total|test_cart.test_total"


# Node (V8): node_modules, Node internals and native frames (`<anonymous>`,
# `index 0`) are not in-app; modules are file names, functions their last name.
NODE = """\
{type}: Cannot read properties of undefined (reading 'sku') [request {req}]
    at {top} ({root}/src/cart/pricing.js:{l1}:{c1})
    at Array.map (<anonymous>)
    at CartService.total ({root}/src/cart/service.js:{l2}:{c2})
    at async Promise.all (index 0)
    at async CartController.checkout ({root}/src/http/controller.js:{l3}:{c3})
    at Layer.handle [as handle_request] ({root}/node_modules/express/lib/router/layer.js:95:5)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)
"""
NODE_BASE = {"type": "TypeError", "req": "7f3a9c21-5b0e-4d1a-9e57-2c8b1f0d6a43", "top": "priceLine",
             "root": "/srv/app", "l1": "14", "c1": "33", "l2": "52", "c2": "19", "l3": "27", "c3": "11"}


def test_node_v8(run) -> None:
    check_language(
        run, NODE, "TypeError|pricing.priceLine|service.total|controller.checkout",
        same=[{"l1": "15", "c1": "9", "l2": "60", "c2": "21", "l3": "30", "c3": "5"},
              {"req": "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", "root": "/tmp/build-4411/app"}],
        base=NODE_BASE, other_top={"top": "discountLine"}, other_type={"type": "RangeError"})


# Browsers: the same fault in Chrome (V8 `at` lines) and Firefox (`fn@url`),
# on two deploys whose bundles have other content hashes.
CHROME = """\
TypeError: Cannot read properties of undefined (reading 'sku')
    at {top} (https://shop.example.com/static/js/main.{hash}.chunk.js:2:{c1})
    at Array.map (<anonymous>)
    at CartService.total (https://shop.example.com/static/js/main.{hash}.chunk.js:2:{c2})
    at onClick (https://shop.example.com/static/js/main.{hash}.chunk.js:2:{c3})
"""
FIREFOX = """\
{type}: can't access property "sku", item is undefined
{top}@https://shop.example.com/static/js/main.{hash}.chunk.js:2:{c1}
CartService.prototype.total@https://shop.example.com/static/js/main.{hash}.chunk.js:2:{c2}
onClick/<@https://shop.example.com/static/js/main.{hash}.chunk.js:2:{c3}
"""
BROWSER_BASE = {"type": "TypeError", "top": "priceLine", "hash": "3f2a1b9c", "c1": "10423", "c2": "11872",
                "c3": "15220"}


def test_firefox_and_chrome_agree(run) -> None:
    expected = "TypeError|main.priceLine|main.total|main.onClick"
    check_language(run, FIREFOX, expected,
                   same=[{"hash": "5d6e7f80", "c1": "10377", "c2": "11801", "c3": "15101"}],
                   base=BROWSER_BASE, other_top={"top": "discountLine"}, other_type={"type": "RangeError"})
    assert run("stack_signature", CHROME.format(**BROWSER_BASE)) == expected


# .NET: the inner exception (` ---> `) is the root cause and its frames come
# first; async state machines (`<X>d__4.MoveNext`) and lambdas
# (`<>c__DisplayClass7_0.<X>b__0`) are their method; System and Microsoft are
# not in-app.
DOTNET = """\
System.InvalidOperationException: Checkout of cart {cart} failed
 ---> {root_type} (0x80131904): Execution Timeout Expired.
   at System.Data.SqlClient.SqlConnection.OnError(SqlException exception, Boolean breakConnection, Action`1 wrap)
   at System.Data.SqlClient.SqlCommand.ExecuteReader()
   at Acme.Shop.Data.OrderRepository.<{top}>d__{d1}.MoveNext() in {src}\\Data\\OrderRepository.cs:line {l1}
--- End of stack trace from previous location ---
   at Acme.Shop.Cart.CartService.<>c__DisplayClass{d2}_0.<CheckoutAsync>b__0(Order o) in {src}\\Cart\\CartService.cs:line {l2}
   at System.Linq.Enumerable.SelectListIterator`2.MoveNext()
   at Acme.Shop.Cart.CartService.<CheckoutAsync>d__{d3}.MoveNext() in {src}\\Cart\\CartService.cs:line {l3}
ClientConnectionId:{conn}
Error Number:-2,State:0,Class:11
   --- End of inner exception stack trace ---
   at Acme.Shop.Api.CartController.Checkout(Guid cartId) in {src}\\Api\\CartController.cs:line {l4}
   at Microsoft.AspNetCore.Mvc.Infrastructure.ActionMethodExecutor.TaskOfIActionResultExecutor.Execute(Object controller)
"""
DOTNET_BASE = {"cart": "42", "root_type": "System.Data.SqlClient.SqlException", "top": "FindOpenAsync",
               "d1": "4", "src": r"C:\build\agent-2\s\Acme.Shop", "l1": "55", "d2": "7", "l2": "31", "d3": "12",
               "l3": "29", "conn": "7f3a9c21-5b0e-4d1a-9e57-2c8b1f0d6a43", "l4": "18"}


def test_dotnet_inner_exception(run) -> None:
    check_language(
        run, DOTNET,
        "System.Data.SqlClient.SqlException|Acme.Shop.Data.OrderRepository.FindOpenAsync"
        "|Acme.Shop.Cart.CartService.CheckoutAsync|Acme.Shop.Api.CartController.Checkout",
        same=[{"l1": "61", "l2": "35", "l3": "33", "l4": "20", "d1": "5", "d2": "9", "d3": "14"},
              {"cart": "77", "src": "/src/Acme.Shop", "conn": "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"}],
        base=DOTNET_BASE, other_top={"top": "FindByCustomerAsync"},
        other_type={"root_type": "System.TimeoutException"})


# Go: a goroutine dump. Only the panicking goroutine (the first) counts, and
# `created by` is where it started, not its stack. The standard library
# (net/http, under GOROOT) and module-cache dependencies (chi) are not in-app.
GO = """\
panic: {message}
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x{pc}]

goroutine {g} [running]:
github.com/acme/shop/internal/cart.(*Service).{top}(0x0, {{0x{a1}, 0xc0000b4000}})
\t/home/{user}/src/shop/internal/cart/service.go:{l1} +0x{o1}
github.com/acme/shop/internal/http.(*Handler).Checkout.func{f}({{0x{a1}, 0xc0000b4000}}, 0xc0000c2000)
\t/home/{user}/src/shop/internal/http/handler.go:{l2} +0x{o2}
net/http.HandlerFunc.ServeHTTP(0xc0000a6000, {{0x{a1}, 0xc0000b4000}}, 0xc0000c2000)
\t/usr/local/go/src/net/http/server.go:2136 +0x29
github.com/go-chi/chi/v5.(*Mux).routeHTTP(0xc000098060, {{0x{a1}, 0xc0000b4000}}, 0xc0000c2000)
\t/home/{user}/go/pkg/mod/github.com/go-chi/chi/v5@v5.0.10/mux.go:444 +0x216
created by net/http.(*Server).Serve in goroutine {g0}
\t/usr/local/go/src/net/http/server.go:3086 +0x5cb

goroutine {g1} [{state}]:
github.com/acme/shop/internal/jobs.(*Worker).Run(0xc0001a2000)
\t/home/{user}/src/shop/internal/jobs/worker.go:{l3} +0x9c
"""
GO_BASE = {"message": "runtime error: invalid memory address or nil pointer dereference", "pc": "4a1b2c",
           "g": "42", "top": "Total", "a1": "7f3c1b2a", "user": "dev", "l1": "88", "o1": "1d", "f": "1",
           "l2": "31", "o2": "2f", "g0": "1", "g1": "7", "state": "chan receive", "l3": "60"}


def test_go_goroutine_dump(run) -> None:
    check_language(
        run, GO,
        "panic: runtime error|github.com/acme/shop/internal/cart.Service.Total"
        "|github.com/acme/shop/internal/http.Handler.Checkout.func",
        same=[{"g": "1187", "g0": "9", "g1": "3", "state": "select, 5 minutes", "l3": "71"},
              {"pc": "4c2d3e", "a1": "9e0d1c2b", "o1": "3a", "o2": "41", "l1": "90", "l2": "33", "f": "2",
               "user": "runner"}],
        base=GO_BASE, other_top={"top": "Subtotal"}, other_type={"message": "assignment to entry in nil map"})


def test_go_module_without_a_dot_is_in_app(run) -> None:
    """`module shop` looks like a standard-library path; its files are not under GOROOT, so it is
    in-app, while `panic(...)` and runtime frames are not."""
    trace = ("panic: order 42 not found\n\ngoroutine 1 [running]:\npanic({0x6a5f40?, 0xc000012345?})\n"
             "\t/usr/local/go/src/runtime/panic.go:914 +0x21f\nshop/internal/cart.(*Service).Load(...)\n"
             "\t/src/internal/cart/service.go:88\nmain.main()\n\t/src/cmd/shop/main.go:12 +0x1d\n")
    assert run("stack_signature", trace) == "panic|shop/internal/cart.Service.Load|main.main"


def test_framework_only_trace_uses_every_frame(run) -> None:
    trace = ("java.net.SocketTimeoutException: Read timed out\n"
             "\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:{l})\n"
             "\tat java.base/java.net.Socket$SocketInputStream.read(Socket.java:966)\n"
             "\tat org.apache.http.impl.io.SessionInputBufferImpl.fillBuffer(SessionInputBufferImpl.java:153)\n"
             "\tat org.apache.http.impl.io.SessionInputBufferImpl.readLine(SessionInputBufferImpl.java:280)\n")
    expected = ("java.net.SocketTimeoutException|sun.nio.ch.NioSocketImpl.timedRead|java.net.Socket$SocketInputStream.read"
                "|org.apache.http.impl.io.SessionInputBufferImpl.fillBuffer")
    assert run("stack_signature", trace.format(l="288")) == expected
    assert run("stack_fingerprint", trace.format(l="301")) == md5_16(expected)


def test_without_frames_type_and_normalised_message(run) -> None:
    """No frame: the text, lower-cased, without numbers, ids and temp paths."""
    first = "AssertionError: expected 3 items in /tmp/pytest-7/cart.json but got 2 (run 7f3a9c21-5b0e-4d1a-9e57-2c8b1f0d6a43)"
    again = "AssertionError: expected 4 items in /tmp/pytest-9/cart.json but got 1 (run 0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d)"
    expected = "AssertionError|assertionerror: expected items in tmp but got (run )"
    assert run("stack_signature", first) == expected
    assert run("stack_fingerprint", again) == md5_16(expected)
    assert run("stack_fingerprint", "AssertionError: expected 3 coupons") != md5_16(expected)


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_blank_text_has_no_fingerprint(run, blank) -> None:
    assert run("stack_fingerprint", blank) is None
