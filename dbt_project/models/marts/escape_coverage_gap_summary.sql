-- Per (service, component) summary of escape_coverage_gaps, with 'ALL'
-- roll-ups over either or both. The unit of files is (service, release,
-- file): a file shipped in a release is measured once, however many of the
-- release's escapes changed it.
with gaps as (
    select * from {{ ref('escape_coverage_gaps') }}
),

release_files as (
    select distinct
        service,
        release,
        file,
        component,
        line_coverage,
        is_gap
    from gaps
    where file is not null
),

file_stats as (
    select
        case when grouping(service) = 1 then 'ALL' else service end as service,
        case when grouping(component) = 1 then 'ALL' else component end as component,
        count(*) as files,
        count(is_gap) as measured_files,
        count(*) filter (where is_gap) as gap_files,
        {{ mean('line_coverage') }} as mean_line_coverage,
        count(line_coverage) as n_line_coverage
    from release_files
    group by grouping sets ((service, component), (service), (component), ())
),

defect_stats as (
    select
        case when grouping(service) = 1 then 'ALL' else service end as service,
        case when grouping(component) = 1 then 'ALL' else component end as component,
        count(distinct defect_id) as escaped_defects
    from gaps
    where file is not null
    group by grouping sets ((service, component), (service), (component), ())
),

-- Escapes whose defect no commit names have no file, hence no component:
-- they are counted on the component 'ALL' rows only.
unlinked_escapes as (
    select distinct
        service,
        release,
        defect_id,
        incident_id
    from gaps
    where file is null
),

unlinked_stats as (
    select
        case when grouping(service) = 1 then 'ALL' else service end as service,
        'ALL' as component,
        count(*) as escapes_without_change
    from unlinked_escapes
    group by grouping sets ((service), ())
),

keys as (
    select
        service,
        component
    from file_stats
    union
    select
        service,
        component
    from unlinked_stats
),

final as (
    select
        k.service,
        k.component,
        cast(coalesce(d.escaped_defects, 0) as bigint) as escaped_defects,
        cast(coalesce(f.files, 0) as bigint) as files,
        cast(coalesce(f.measured_files, 0) as bigint) as measured_files,
        cast(coalesce(f.gap_files, 0) as bigint) as gap_files,
        f.gap_files / cast(nullif(f.measured_files, 0) as double) as gap_rate,
        f.mean_line_coverage,
        cast(coalesce(f.n_line_coverage, 0) as bigint) as n_line_coverage,
        case when k.component = 'ALL' then cast(coalesce(u.escapes_without_change, 0) as bigint) end
            as escapes_without_change
    from keys as k
    left join file_stats as f on k.service = f.service and k.component = f.component
    left join defect_stats as d on k.service = d.service and k.component = d.component
    left join unlinked_stats as u on k.service = u.service and k.component = u.component
)

select * from final
