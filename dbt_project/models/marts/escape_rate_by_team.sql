-- docs/metrics.md "Defect escape rate" (settled detail 6) per team, defects only:
-- the body is macros/escape_rate.sql::escape_rate_by_slice.
{{ escape_rate_by_slice(
    'team',
    defects=ref('int_defects'),
    settings=ref('stg_policy__settings'),
) }}
