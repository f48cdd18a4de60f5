"""TF-IDF vectors of the masked title and description (docs/metrics.md "Duplicate candidates").

Tokenising runs in DuckDB (parallel, streamed: a million reports in seconds,
where a Python tokenizer takes minutes); scikit-learn weights the term counts.
"""

from __future__ import annotations

import duckdb
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfTransformer

# Only the start of a long description is read: stack dumps and logs pasted
# further down add noise, not meaning.
DESCRIPTION_CHARS = 2000
# The title says what the report is about: its words count this many times.
TITLE_WEIGHT = 2

# Tokens unique to one report that two reports of the same fault never share:
# timestamps, dates, clock times, UUIDs, hex ids and addresses, numbers of six
# digits or more (request, job and build ids). Versions, short numbers and
# issue keys stay: duplicates often cite the same version or issue.
VOLATILE = (
    r"\b\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d)?([.,]\d+)?Z?)?\b"
    r"|\b\d\d:\d\d:\d\d([.,]\d+)?\b"
    r"|\b[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b"
    r"|\b\d{6,}\b"
    r"|\b(0x)?[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b"
)

# Words of two or more letters/digits (scikit-learn's default token); an
# identifier written in camelCase or snake_case also gives its parts, so
# `readVectored` meets "read vectored" and `hadoop_conf_dir` meets "conf".
TERMS_SQL = rf"""
with docs as (
    select
        doc,
        regexp_replace(coalesce(title, ''), '{VOLATILE}', ' ', 'g') as title,
        regexp_replace(left(coalesce(description, ''), {DESCRIPTION_CHARS}), '{VOLATILE}', ' ', 'g') as body
    from dupes_documents
),
tokens as (
    select doc, unnest(regexp_extract_all(title, '\w\w+')) as token, {TITLE_WEIGHT} as weight from docs
    union all
    select doc, unnest(regexp_extract_all(body, '\w\w+')), 1 from docs
),
parts as (
    select doc, lower(token) as term, weight from tokens
    union all
    select
        doc,
        lower(unnest(string_split_regex(regexp_replace(token, '([a-z0-9])([A-Z])|_', '\1 \2', 'g'), ' '))),
        weight
    from tokens
    where regexp_matches(token, '[a-z0-9][A-Z]|._.')
),
terms as (
    select doc, term, weight from parts
    where length(term) >= 2 and not list_contains(getvariable('dupes_stop_words'), term)
),
vocabulary as (
    select term, cast(row_number() over (order by term) - 1 as integer) as col
    from (select distinct term from terms)
)
-- one row per occurrence: the sparse matrix sums a term's weights per
-- document as it is built (a GROUP BY here took half the tokenising time)
select cast(t.doc as integer) as doc, v.col, cast(t.weight as float) as tf
from terms as t
inner join vocabulary as v on t.term = v.term
"""


def tfidf_vectors(con: duckdb.DuckDBPyConnection, documents: duckdb.DuckDBPyRelation, n: int) -> sp.csr_matrix:
    """One L2-normalised TF-IDF row per document, in the order of `documents`' `doc` column (0..n-1).

    `documents` has columns doc (0..n-1), title, description. Weights: sublinear tf
    (1 + ln tf), smoothed idf (ln((1 + n) / (1 + df)) + 1), English stop words
    dropped. A document without a term has an all-zero row.
    """
    con.register("dupes_documents", documents)
    con.execute("set variable dupes_stop_words = ?", [sorted(ENGLISH_STOP_WORDS)])
    try:
        entries = con.execute(TERMS_SQL).fetchnumpy()
    finally:
        con.unregister("dupes_documents")
        con.execute("reset variable dupes_stop_words")
    n_terms = int(entries["col"].max()) + 1 if len(entries["col"]) else 0
    # repeated (doc, col) entries are summed: the term counts
    counts = sp.csr_matrix((entries.pop("tf"), (entries.pop("doc"), entries.pop("col"))), shape=(n, n_terms))
    if n_terms == 0:
        return counts
    # fitted and applied in place, in float32: at a million reports a float64 copy is a gigabyte
    return TfidfTransformer(sublinear_tf=True).fit(counts).transform(counts, copy=False)
