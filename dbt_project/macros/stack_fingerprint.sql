{#- Stack fingerprints (docs/metrics.md "Stack fingerprint"): what identifies a
    failure in a stack trace, hashed, so that defects and failed test cases
    that share a fault compare equal. Pure SQL expressions over DuckDB's RE2
    regular expressions and list lambdas: the one definition both
    int_defect_stack_fingerprints and stg_exports__test_cases use, fast enough
    for a million traces (DECISIONS.md, stack fingerprints).

    The signature is the root cause's exception type and its top in-app
    frames (module + function, innermost first), `|`-separated:
        java.sql.SQLTimeoutException|com.acme.shop.OrderRepository.find|com.acme.shop.CartService.checkout
    Line numbers, columns, addresses, argument values, thread and goroutine
    names and the message never enter it while frames exist. Without an
    in-app frame every frame counts; without any frame, the normalised text. -#}

{#- How many frames, from the innermost in-app one, identify a fault. -#}
{% macro stack_top_frames() -%}3{%- endmacro %}

{#- The 16-hex-digit fingerprint; NULL for blank text. -#}
{% macro stack_fingerprint(expr) -%}
    {%- call stack_let(expr, 'st_text') -%}
        case when {{ text('st_text') }} is not null then substr(md5({{ stack_signature('st_text') }}), 1, 16) end
    {%- endcall -%}
{%- endmacro %}

{#- A failed or errored test case's fingerprint: its masked stack trace, else its
    masked message. stg_exports__test_cases stores it; `defectflow
    defects-from-tests` runs it over one CI run's failures, so a candidate's
    fingerprint is the one fct_test_cases and fct_defects compare. -#}
{% macro test_failure_fingerprint(stack_trace, message) -%}
    {{ stack_fingerprint(test_failure_text(stack_trace, message)) }}
{%- endmacro %}

{#- The text a failure's fingerprint is computed from. A model may compute it
    in a CTE and fingerprint that column: on Spark, mask_text reads the names
    pattern by a subquery, which Spark refuses inside the fingerprint's
    lambdas (higher-order functions). -#}
{% macro test_failure_text(stack_trace, message) -%}
    {{ mask_text('coalesce(' ~ stack_trace ~ ', ' ~ message ~ ')') }}
{%- endmacro %}

{#- Binds `value` to the lambda parameter `name` for the body of the call
    block: DuckDB would otherwise evaluate an expression once per use, and
    these use theirs several times. -#}
{% macro stack_let(value, name) -%}
    {%- if on_spark() -%}
    transform(array({{ value }}), {{ name }} -> {{ caller() }})[0]
    {%- else -%}
    list_transform([{{ value }}], lambda {{ name }}: {{ caller() }})[1]
    {%- endif -%}
{%- endmacro %}

{#- The list constructs of these macros, per engine (Spark's lambdas are
    `x -> ...`, its arrays 0-based under `[]`; try_element_at is 1-based and
    NULL past the end, as DuckDB's `[]`). Rendered without dbt: DuckDB's. -#}
{% macro st_at(list, i) -%}
    {%- if on_spark() -%}try_element_at({{ list }}, {{ i }}){%- else -%}{{ list }}[{{ i }}]{%- endif -%}
{%- endmacro %}

{% macro st_len(list) -%}
    {%- if on_spark() -%}size({{ list }}){%- else -%}len({{ list }}){%- endif -%}
{%- endmacro %}

{% macro st_list(item) -%}
    {%- if on_spark() -%}array({{ item }}){%- else -%}[{{ item }}]{%- endif -%}
{%- endmacro %}

{% macro st_reverse(list) -%}
    {%- if on_spark() -%}reverse({{ list }}){%- else -%}list_reverse({{ list }}){%- endif -%}
{%- endmacro %}

{% macro st_head(list, n) -%}
    {%- if on_spark() -%}slice({{ list }}, 1, {{ n }}){%- else -%}({{ list }})[1:{{ n }}]{%- endif -%}
{%- endmacro %}

{#- A regular expression matches somewhere in `expr`. -#}
{% macro st_matches(expr, pattern) -%}
    {%- if on_spark() -%}({{ expr }} rlike {{ pattern }}){%- else -%}regexp_matches({{ expr }}, {{ pattern }}){%- endif -%}
{%- endmacro %}

{#- Every whole match (group 0: Spark's default is group 1). -#}
{% macro st_extract_all(expr, pattern) -%}
    {%- if on_spark() -%}regexp_extract_all({{ expr }}, {{ pattern }}, 0){%- else -%}regexp_extract_all({{ expr }}, {{ pattern }}){%- endif -%}
{%- endmacro %}

{#- Split at a regular expression (Spark's split takes one). -#}
{% macro st_split(expr, pattern) -%}
    {%- if on_spark() -%}split({{ expr }}, {{ pattern }}){%- else -%}regexp_split_to_array({{ expr }}, {{ pattern }}){%- endif -%}
{%- endmacro %}

{#- The groups 1..n of a match as a struct of `names` ('' when unmatched). -#}
{% macro st_extract_struct(expr, pattern, names) -%}
    {%- if on_spark() -%}
    named_struct({% for name in names %}'{{ name }}', regexp_extract({{ expr }}, {{ pattern }}, {{ loop.index }}){{ ', ' if not loop.last }}{% endfor %})
    {%- else -%}
    regexp_extract({{ expr }}, {{ pattern }}, [{% for name in names %}'{{ name }}'{{ ', ' if not loop.last }}{% endfor %}])
    {%- endif -%}
{%- endmacro %}

{#- The readable signature behind the fingerprint (see the top of this file). -#}
{% macro stack_signature(expr) -%}
    {%- call stack_let(stack_sections("replace(" ~ expr ~ ", chr(13), '')"), 'st_sections') -%}
        {%- call stack_let(stack_chosen_keys(stack_frames('st_sections')), 'st_keys') -%}
            coalesce({{ stack_section_error_type(st_at('st_sections', 1)) }}, '') || '|' || case
                when {{ st_len('st_keys') }} > 0
                    {%- if on_spark() %}
                    then array_join(slice(
                        filter(st_keys, (st_k, st_i) -> st_i = 0 or st_k != st_keys[st_i - 1]),
                        1, {{ stack_top_frames() }}), '|')
                    {%- else %}
                    then array_to_string(
                        list_filter(st_keys, lambda st_k, st_i: st_i = 1 or st_k != st_keys[st_i - 1])
                            [1:{{ stack_top_frames() }}], '|')
                    {%- endif %}
                else {{ stack_normalised_text(st_at('st_sections', 1)) }}
            end
        {%- endcall -%}
    {%- endcall -%}
{%- endmacro %}

{#- The error type a stack trace names for its root cause (the innermost
    exception of a chain; see stack_sections); NULL when no line names one. -#}
{% macro stack_error_type(expr) -%}
    {%- call stack_let(stack_sections(expr), 'st_sections') -%}
        {{ stack_section_error_type(st_at('st_sections', 1)) }}
    {%- endcall -%}
{%- endmacro %}

{#- The first line of a section that starts with a dotted name followed by
    `:` (not a `:12` line number) or the line end: Java's and JavaScript's
    first line, Python's last (its frames are indented and "Traceback (most
    recent call last):" has blanks), pytest's `E   KeyError: ...`, .NET's
    `Type (0x80131904): ...`, Node's `Error [ERR_CODE]: ...`, after an optional
    `Exception in thread "name" `, `Uncaught ` or `Unhandled exception. `. A
    Go panic is `panic: runtime error`, `fatal error` or `panic`. -#}
{% macro stack_section_error_type(section) -%}
    nullif(regexp_extract({{ section }},
        '(?m)^(?:E +|Exception in thread "[^"\n]*" |Uncaught |Unhandled exception\. )?(panic: runtime error|fatal error|[A-Za-z_][\w.$]*)(?: \(0x[0-9A-Fa-f]+\)| \[[A-Z_]+\])?(?::[^0-9]|:?$)',
        1), '')
{%- endmacro %}

{#- A trace cut into the sections of its exception chain, root cause first.
    Java `Caused by:`, Node's `[cause]:` and .NET's `--->` name the cause
    after the exception it caused, so their sections are reversed; Python
    prints the cause first ("The above exception was the direct cause ...",
    "During handling of the above exception ..."). .NET prints the inner
    exception's frames before the outer's, so after the reversal its root
    section holds every frame, innermost first. Java `Suppressed:` blocks are
    side notes and dropped. A Go dump keeps the first goroutine only: the one
    that panicked. Plain substring tests come before the regular expressions:
    most traces have no chain, and those tests cost next to nothing. -#}
{% macro stack_sections(trace) -%}
    {%- call stack_let(trace, 'st_trace') -%}
        case
            when contains(st_trace, 'goroutine ') and {{ st_matches('st_trace', "'(?:^|\\n)goroutine \\d+ \\['") }}
                then {{ st_list("regexp_extract(st_trace,
                    '(?s)^(.*?(?:^|\\n)goroutine \\d+ \\[.*?)(?:\\n[ \\t]*\\ngoroutine \\d+ \\[|$)', 1)") }}
            when contains(st_trace, 'above exception') and {{ st_matches('st_trace', "'" ~ stack_python_chain() ~ "'") }}
                then {{ st_split('st_trace', "'" ~ stack_python_chain() ~ "'") }}
            when contains(st_trace, 'Caused by: ') or contains(st_trace, '[cause]: ') or contains(st_trace, '---> ')
                or contains(st_trace, 'Suppressed: ')
                then {{ st_reverse(st_split(
                    "regexp_replace(st_trace, '\\n[ \\t]+Suppressed: [^\\n]*(?:\\n(?:\\t\\t|[ ]{8})[^\\n]*)*', ''" ~ re_all() ~ ")",
                    "'\\n[ \\t]*(?:Caused by|\\[cause\\]): |\\n?[ \\t]*---> '")) }}
            else {{ st_list('st_trace') }}
        end
    {%- endcall -%}
{%- endmacro %}

{% macro stack_python_chain() -%}
    \n\s*(?:The above exception was the direct cause of the following exception|During handling of the above exception, another exception occurred):\s*\n
{%- endmacro %}

{#- Every frame line of the sections, innermost first (Python and pytest
    print the innermost frame last). The forms: `at pkg.Class.method(...)`
    (JVM, .NET), `at fn (file:line:col)` / `at file:line:col` (V8: Node,
    Chrome), `fn@url:line:col` (Firefox, Safari), `File "path", line n, in fn`
    (Python), `path.py:n: in fn` and pytest's long form (the `def fn(` block
    down to its `path.py:n:` line), and Go's two lines, `pkg.fn(args)` then
    the tab-indented `file.go:n +0x..` (`created by` lines end without `)`:
    where a goroutine started is not on its stack). -#}
{% macro stack_frames(sections) -%}
    flatten({{ 'transform(' if on_spark() else 'list_transform(' }}{{ sections }}, {{ 'st_s ->' if on_spark() else 'lambda st_s:' }}
        {% call stack_let(st_extract_all('st_s', "'" ~ stack_frame_pattern() ~ "'"), 'st_lines') -%}
            case when {{ st_matches(st_at('st_lines', 1), "'^[ \\t]*File \"|\\.py:\\d+:'") }} then {{ st_reverse('st_lines') }} else st_lines end
        {%- endcall %}))
{%- endmacro %}

{% macro stack_frame_pattern() -%}
    (?m)^[ \t]*at (?:[^\s(]+\(|[^\n]* \(|\S+:\d+)[^\n]*|^[ \t]*File "[^\n]*|^[ \t]*(?:async )?def \w+\([^\n]*\n(?:[^\n]*\n)*?\S+?\.py:\d+:[^\n]*|^\S+?\.py:\d+:[^\n]*|^[^@\s]*(?: code)?@(?:[A-Za-z][\w+.-]*:/|/)\S*:\d+(?::\d+)?[ \t]*$|^\S[^\n]*\)\n[ \t]+[^\n]*\.go:\d+[^\n]*
{%- endmacro %}

{#- The keys of the frames that identify the fault: the in-app ones, or all
    of them when none is in-app. Only the first frames of that choice are
    parsed (stack_frames_parsed): enough for the top ones once generated
    frames (key '') and repeats are gone, and parsing is what costs. -#}
{% macro stack_chosen_keys(frames) -%}
    {%- call stack_let(frames, 'st_frames') -%}
        {%- if on_spark() -%}
        {%- call stack_let("filter(st_frames, st_f -> not " ~ stack_frame_is_framework('st_f') ~ ")", 'st_app') -%}
            filter(transform(
                slice(case when size(st_app) > 0 then st_app else st_frames end, 1, {{ stack_frames_parsed() }}),
                st_f -> {{ stack_frame_key('st_f') }}), st_k -> st_k != '')
        {%- endcall -%}
        {%- else -%}
        {%- call stack_let("list_filter(st_frames, lambda st_f: not " ~ stack_frame_is_framework('st_f') ~ ")", 'st_app') -%}
            list_filter(list_transform(
                (case when len(st_app) > 0 then st_app else st_frames end)[1:{{ stack_frames_parsed() }}],
                lambda st_f: {{ stack_frame_key('st_f') }}), lambda st_k: st_k != '')
        {%- endcall -%}
        {%- endif -%}
    {%- endcall -%}
{%- endmacro %}

{% macro stack_frames_parsed() -%}10{%- endmacro %}

{#- Frames that are not the application's, read off the raw line by one
    regular expression without captures (cheap to run on every frame):
    - JVM and .NET framework packages (JDK, Kotlin, Scala, Groovy, Jakarta,
      Spring, Apache, JUnit, TestNG, Mockito, Hibernate, Netty, Reactor,
      common drivers and clients, .NET System and Microsoft, ...) after an
      optional JDK 9 module prefix (`java.base/`), and `$$Lambda` trampolines;
    - JavaScript in node_modules, Node internals (`node:`, `internal/`),
      native code (`<anonymous>`, `native`, `index 0`), browser and extension
      code, webpack's bootstrap;
    - Python's site-packages, dist-packages, standard library and frozen
      modules, in tracebacks and in pytest's `path.py:n:` lines;
    - Go, whose rule needs the package beside the file (stack_go_framework). -#}
{% macro stack_frame_is_framework(f) -%}
    case when contains({{ f }}, '.go:') and contains({{ f }}, chr(10)) then {{ stack_go_framework(f) }}
    else {{ st_matches(f, "'" ~ stack_framework_pattern() ~ "'") }} end
{%- endmacro %}

{% macro stack_framework_pattern() -%}
    {%- set jvm_frameworks = [
        'java', 'javax', 'jakarta', 'jdk', 'sun', 'com.sun', 'kotlin', 'kotlinx', 'scala', 'groovy', 'clojure',
        'org.springframework', 'org.apache', 'org.junit', 'org.testng', 'org.opentest4j', 'org.mockito',
        'org.assertj', 'org.hamcrest', 'org.hibernate', 'org.eclipse', 'org.glassfish', 'org.jboss',
        'org.gradle', 'worker.org.gradle', 'org.slf4j', 'ch.qos', 'org.postgresql', 'com.mysql',
        'oracle.jdbc', 'com.zaxxer', 'org.h2', 'com.fasterxml', 'io.netty', 'io.grpc', 'io.micrometer',
        'io.opentelemetry', 'reactor', 'rx', 'okhttp3', 'retrofit2', 'feign', 'net.bytebuddy', 'org.aspectj',
        'android', 'androidx', 'dalvik', 'com.android',
        'System', 'Microsoft', 'Newtonsoft', 'Npgsql', 'Polly', 'Castle', 'Grpc', 'StackExchange', 'Xunit',
        'NUnit', 'Moq'] -%}
    (?m)^[ \t]*at (?:[\w.@-]*/)*(?i:{{ jvm_frameworks | join('|') | replace('.', '\\.') }})\.|^[ \t]*at [^\n]*\$\$Lambda|^[ \t]*at [^\n]*(?:node_modules|[( ](?:node|internal)[:/]|\((?:<anonymous>|native|index \d+)\))|@(?:resource|chrome|moz-extension|chrome-extension|safari-extension)://|@[^\n]*(?:node_modules|webpack/bootstrap)|(?i:site-packages|dist-packages|[/\\]lib[/\\]python[\d.]*[/\\]|[/\\]python[\d.]*[/\\]lib[/\\]|^[ \t]*File "<frozen )
{%- endmacro %}

{#- One frame line as its key, module + function, by its form. -#}
{% macro stack_frame_key(f) -%}
    case
        when {{ st_matches(f, "'^[ \\t]*at [^\\s(]+\\('") }} then {{ stack_jvm_key(f) }}
        when {{ st_matches(f, "'^[ \\t]*at '") }} then {{ stack_js_key(f, "'^[ \\t]*at (?:async )?(?:new )?(?:(.*?) \\()?([^\\s()]*?)(?::\\d+){0,2}\\)?[ \\t]*\\{?[ \\t]*$'") }}
        when {{ st_matches(f, "'^[ \\t]*File \"'") }} then {{ stack_python_key(f) }}
        when contains({{ f }}, '.py:') then {{ stack_pytest_key(f) }}
        when contains({{ f }}, chr(10)) then {{ stack_go_key(f) }}
        else {{ stack_js_key(f, "'^([^@]*)@(.*?)(?::\\d+){1,2}[ \\t]*$'") }}
    end
{%- endmacro %}

{#- JVM and .NET: the qualified method name, without the JDK 9 module prefix
    (`java.base/`, `app//`), generic arguments (`[T]`, `` `1 ``) or the names
    compilers generate: Java lambdas (`lambda$checkout$0`) and C# async state
    machines, lambdas and local functions (`<Checkout>d__4.MoveNext`,
    `<>c__DisplayClass5_0.<Checkout>b__0`) become the method they sit in;
    Spring CGLIB, Javassist, Hibernate, ByteBuddy and Mockito proxy suffixes
    go; `$$Lambda` trampolines are no frame at all. -#}
{% macro stack_jvm_key(f) -%}
    {%- call stack_let("regexp_extract(" ~ f ~ ", '^[ \\t]*at (?:[\\w.@-]*/)*([^\\s(]+)\\(', 1)", 'st_name') -%}
        case when contains(st_name, '$$Lambda') then '' else regexp_replace(regexp_replace(regexp_replace(st_name,
            '\.<>c(?:__DisplayClass\w*)?\.', '.'{{ re_all() }}),
            '<([^<>]+)>[\w|$]*|lambda\$(\w+?)\$\d+', '{{ re_ref(1) }}{{ re_ref(2) }}'{{ re_all() }}),
            '\$\$\w*CGLIB\$\$\w*|_\$\$_javassist\w*|\$(?:HibernateProxy|ByteBuddy|MockitoMock)\$\w+|\[[^\]]*\]|`\d+|\.MoveNext$', ''{{ re_all() }})
        end
    {%- endcall -%}
{%- endmacro %}

{#- JavaScript (V8 `at` lines and Firefox/Safari `@` lines, told apart by
    `pattern`, which captures the function and the location): the file's
    module (stack_file_module) and the function's last name
    (`CartService.prototype.checkout`, `Object.checkout` and `checkout` are
    one function across engines; `[as alias]`, `async*` and anonymous names
    go). -#}
{% macro stack_js_key(f, pattern) -%}
    {%- call stack_let(st_extract_struct(f, pattern, ['fn', 'loc']), 'st_js') -%}
        concat_ws('.',
            nullif({{ stack_file_module("st_js['loc']") }}, ''),
            nullif(regexp_extract(
                regexp_replace(st_js['fn'], ' \[as [^\]]*\]|<anonymous>|^\w*\*', ''{{ re_all() }}), '([^./<]*)[/<]*$', 1), ''))
    {%- endcall -%}
{%- endmacro %}

{#- Python: the file's module and the function. -#}
{% macro stack_python_key(f) -%}
    {%- call stack_let(st_extract_struct(f, "'^[ \\t]*File \"([^\"]*)\", line \\d+(?:, in (\\S+))?'", ['path', 'fn']), 'st_py') -%}
        concat_ws('.', nullif({{ stack_file_module("st_py['path']") }}, ''), nullif(st_py['fn'], ''))
    {%- endcall -%}
{%- endmacro %}

{#- pytest: `path.py:n: in fn` (--tb=short) or the long form, whose function
    is on the `def` line above its location line. -#}
{% macro stack_pytest_key(f) -%}
    {%- call stack_let(st_extract_struct(f, "'(?s)(?:def (\\w+)\\(.*\\n)?[ \\t]*(\\S+?\\.py):\\d+:(?: in (\\S+))?'", ['def', 'path', 'fn']), 'st_pt') -%}
        concat_ws('.', nullif({{ stack_file_module("st_pt['path']") }}, ''), coalesce(nullif(st_pt['fn'], ''), nullif(st_pt['def'], '')))
    {%- endcall -%}
{%- endmacro %}

{#- Go: the package path and function (`github.com/acme/shop/cart.Service.Checkout`):
    receivers lose `(*...)`, generic `[...]` goes, closures `func1.2` are
    `func`. -#}
{% macro stack_go_key(f) -%}
    regexp_replace(regexp_replace({{ stack_go_parts(f) }}['name'],
        '\(\*?(\w+)\)', '{{ re_ref(1) }}'{{ re_all() }}),
        '\[\.\.\.\]|(\.(?:func|gowrap|deferwrap))\d+(?:\.\d+)*', '{{ re_ref(1) }}'{{ re_all() }})
{%- endmacro %}

{#- Go frames not in-app: dependencies (module cache `/pkg/mod/`, `vendor/`)
    and the standard library, a package whose first path element has no dot
    living under GOROOT's `src/<package>/` (`<package>/` with -trimpath);
    `panic(...)` is the runtime's. -#}
{% macro stack_go_framework(f) -%}
    {%- call stack_let(stack_go_parts(f), 'st_go') -%}
        {%- call stack_let("case when contains(st_go['name'], '.') then regexp_extract(st_go['name'], '^((?:[^/]*/)*[^./]*)', 1) else 'runtime' end", 'st_pkg') -%}
            contains(st_go['file'], '/pkg/mod/') or contains(st_go['file'], '/vendor/')
                or (not contains(split_part(st_pkg, '/', 1), '.')
                    and (contains(st_go['file'], '/src/' || st_pkg || '/') or {{ 'startswith' if on_spark() else 'starts_with' }}(st_go['file'], st_pkg || '/')))
        {%- endcall -%}
    {%- endcall -%}
{%- endmacro %}

{#- A Go frame's function (`pkg.(*T).M`, arguments dropped) and file. -#}
{% macro stack_go_parts(f) -%}
    {{ st_extract_struct(f, "'^(.*)\\([^()\\n]*\\)\\n[ \\t]+([^\\n]*?):\\d+'", ['name', 'file']) }}
{%- endmacro %}

{#- A source file as a module name: the base name (a package's `__init__.py`
    is the package), lower-cased, without query, extensions and bundler
    content hashes (`main.3f2a1b9c.chunk.js` is `main`), so deploy folders,
    temp paths and builds do not matter. -#}
{% macro stack_file_module(path) -%}
    lower(regexp_extract({{ path }},
        '([^/\\?#]+?)(?:[/\\]__init__)?(?:\.[cm]?[jt]sx?|\.pyw?|\.chunk|\.bundle|\.min|[.-][0-9a-f]{8,})*(?:[?#][^/\\]*)?$', 1))
{%- endmacro %}

{#- Text without frames, normalised: lower-cased, temp paths (/tmp,
    /var/tmp, macOS /var/folders, Windows Temp folders) as `tmp`, UUIDs, 0x
    addresses, hex ids and numbers removed, blanks collapsed. -#}
{% macro stack_normalised_text(expr) -%}
    trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(lower({{ expr }}),
        '(/private)?/var/folders/[^\s"'':,;()]*|(/var)?/tmp/[^\s"'':,;()]*|[a-z]:\\(users\\[^\\\s]+\\appdata\\local\\|windows\\)temp\\[^\s"'':,;()]*',
        'tmp'{{ re_all() }}),
        '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|0x[0-9a-f]+|\b[0-9a-f]*[0-9][0-9a-f]*\b', ''{{ re_all() }}),
        '[0-9]+', ''{{ re_all() }}),
        '\s+', ' '{{ re_all() }}))
{%- endmacro %}
