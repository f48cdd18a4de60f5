-- The figures a reader looks at first, one row per figure (docs/metrics.md,
-- Headline metrics). The CLI summary, the reports and history.metric_snapshots
-- all read them here, so they are computed once. Columns a figure has no use
-- for are NULL; `n` is the number of records (or releases, or gate keys)
-- behind `value`.
with escape_rates as (
    select * from {{ ref('release_escape_rate') }}
),

detection_resolution as (
    select * from {{ ref('detection_resolution_by_environment') }}
    where severity = 'ALL'
),

open_defects as (
    select * from {{ ref('fct_defects') }}
    where is_open and not is_duplicate
),

release_gate as (
    select * from {{ ref('release_gate') }}
),

service_escape_rates as (
    select
        service,
        escape_rate,
        escaped_defects,
        escaped_incidents,
        pre_release_defects + escaped_defects + escaped_incidents as records
    from escape_rates
    where release = 'ALL'
),

-- Real releases only: not the unattributed (NULL) rows or the roll-ups.
releases as (
    select * from escape_rates
    where release is not null and release <> 'ALL'
),

figures as (
    select
        'escape_rate' as metric,
        service,
        null as record_type,
        null as environment,
        null as severity,
        escape_rate as value,
        records as n
    from service_escape_rates
    union all
    select
        'escaped_defects',
        service,
        'defect',
        null,
        null,
        escaped_defects,
        records
    from service_escape_rates
    union all
    select
        'escaped_incidents',
        service,
        'incident',
        null,
        null,
        escaped_incidents,
        records
    from service_escape_rates
    union all
    select
        'mttd_hours',
        'ALL',
        record_type,
        environment,
        null,
        mttd_hours,
        n_detect
    from detection_resolution
    union all
    select
        'mttr_hours',
        'ALL',
        record_type,
        environment,
        null,
        mttr_hours,
        n_resolve
    from detection_resolution
    union all
    select
        'open_defects',
        'ALL',
        'defect',
        null,
        severity,
        count(*),
        count(*)
    from open_defects
    group by severity
    union all
    select
        'rca_required_releases',
        'ALL',
        null,
        null,
        null,
        count(*) filter (where rca_required),
        count(*) filter (where escape_rate is not null)
    from releases
    union all
    select
        'rca_link_missing',
        'ALL',
        null,
        null,
        null,
        count(*) filter (where rca_required and nullif(trim(rca_link), '') is null),
        count(*) filter (where rca_required)
    from releases
    union all
    select
        'releases_held',
        'ALL',
        null,
        environment,
        null,
        count(*) filter (where verdict = 'HOLD'),
        count(*)
    from release_gate
    group by environment
),

final as (
    select
        metric,
        service,
        record_type,
        environment,
        severity,
        cast(value as double) as value,
        cast(n as bigint) as n
    from figures
)

select * from final
