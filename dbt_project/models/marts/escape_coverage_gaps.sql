-- a table, not a view: the exclusion pattern is a session variable, set only while this builds
{{ config(pre_hook="{{ set_coverage_exclude_pattern() }}") }}
-- depends_on: {{ ref('stg_policy__coverage_exclude') }}

-- docs/metrics.md "Escape-to-coverage gaps": for each escape, the files changed by
-- the commits that name its defect, with their line coverage in the latest
-- coverage report before the release's first production deployment.
with defects as (
    select * from {{ ref('fct_defects') }}
    where not is_duplicate
),

incidents as (
    select * from {{ ref('fct_incidents') }}
    where environment = 'production'
),

incident_links as (
    select * from {{ ref('int_incident_defect_links') }}
),

deployments as (
    select * from {{ ref('fct_deployments') }}
    where served and environment = 'production'
),

commits as (
    select c.*
    from {{ ref('stg_exports__commits') }} as c
    cross join {{ ref('int_as_of') }} as a
    where c.committed_at <= a.as_of
),

commit_keys as (
    select * from {{ ref('stg_exports__commit_defect_keys') }}
),

coverage as (
    select * from {{ ref('fct_coverage') }}
),

components as (
    select * from {{ ref('stg_policy__components') }}
),

settings as (
    select * from {{ ref('stg_policy__settings') }}
),

-- The escapes of release_escape_rate: every escaped defect, and every
-- production incident that links no escaped defect of its own (service,
-- release), through the defects it links (a link to a duplicate counts
-- through the defect it duplicates). An incident linking no defect names no
-- change to look up and has no row.
escaped_defects as (
    select
        service,
        attributed_release as release,
        defect_id,
        cast(null as {{ dbt.type_string() }}) as incident_id
    from defects
    where is_escaped
),

incident_escapes as (
    select distinct
        i.service,
        i.attributed_release as release,
        l.counted_defect_id as defect_id,
        i.incident_id
    from incidents as i
    inner join incident_links as l on i.incident_id = l.incident_id
    where not exists (
        select 1
        from incident_links as l2
        inner join escaped_defects as e on l2.counted_defect_id = e.defect_id
        where
            l2.incident_id = i.incident_id
            and e.service = i.service
            and e.release is not distinct from i.attributed_release
    )
),

escapes as (
    select * from escaped_defects
    union all
    select * from incident_escapes
),

first_production as (
    select
        service,
        release,
        min(finished_at) as first_production_at
    from deployments
    group by service, release
),

-- Only the commits that name an escape are split into their files.
commit_files as (
    select distinct
        c.sha,
        c.committed_at,
        trim(f.file) as file
    from commits as c
    {{ split_to_rows('c.files', ';', 'f', 'file') }}
    where
        trim(f.file) <> ''
        and exists (
            select 1
            from commit_keys as k
            inner join escapes as e on k.defect_key = e.defect_id
            where k.sha = c.sha
        )
        -- test code is never in a coverage report (policy.coverage_exclude)
        and not {{ full_match('trim(f.file)', coverage_exclude_pattern()) }}
),

-- Commits name a defect when the policy's key pattern extracts its id from
-- the message (a whole key: CHK-1 is not named by CHK-12). One row per
-- (escape, file); the earliest commit is kept, with the number of commits.
escape_file_commits as (
    select
        e.service,
        e.release,
        e.defect_id,
        e.incident_id,
        f.file,
        f.sha as commit_sha,
        count(*) over (partition by e.service, e.release, e.defect_id, e.incident_id, f.file) as commits,
        row_number() over (
            partition by e.service, e.release, e.defect_id, e.incident_id, f.file
            order by f.committed_at, f.sha
        ) as commit_rank
    from escapes as e
    inner join commit_keys as k on e.defect_id = k.defect_key
    inner join commit_files as f on k.sha = f.sha
),

escape_files as (
    select
        service,
        release,
        defect_id,
        incident_id,
        file,
        commit_sha,
        commits
    from escape_file_commits
    where commit_rank = 1
),

-- Files measured once per (service, release): every escape of the release
-- shipped them at the same deployment.
release_files as (
    select distinct
        f.service,
        f.release,
        f.file,
        p.first_production_at,
        {{ path_file_name('f.file') }} as file_name
    from escape_files as f
    left join first_production as p
        on f.service = p.service and f.release = p.release
),

coverage_files as (
    select
        report_id,
        reported_at,
        file,
        line_coverage,
        {{ path_file_name('file') }} as file_name
    from coverage
),

-- Coverage reports name no service: a file's report is the latest one
-- reported strictly before the first production deployment that lists the
-- file, its path equal to the changed path or one a suffix of the other at a
-- folder boundary (Cobertura paths are often relative to a package root);
-- within that report, the longest match. The join on the file name keeps
-- this an equi-join.
coverage_candidates as (
    select
        r.service,
        r.release,
        r.file,
        c.report_id as coverage_report_id,
        c.reported_at as coverage_reported_at,
        c.file as coverage_file,
        c.line_coverage,
        row_number() over (
            partition by r.service, r.release, r.file
            order by c.reported_at desc, c.report_id desc, least(length(c.file), length(r.file)) desc, c.file
        ) as match_rank
    from release_files as r
    inner join coverage_files as c
        on
            r.file_name = c.file_name
            and r.first_production_at > c.reported_at
            and (
                r.file = c.file
                or {{ path_ends_with('c.file', 'r.file') }}
                or {{ path_ends_with('r.file', 'c.file') }}
            )
),

coverage_match as (
    select
        service,
        release,
        file,
        coverage_report_id,
        coverage_reported_at,
        coverage_file,
        line_coverage
    from coverage_candidates
    where match_rank = 1
),

-- First matching component in component-name order; 'unassigned' when none.
component_matches as (
    select
        f.file,
        c.component,
        row_number() over (partition by f.file order by c.component, c.path_glob) as component_rank
    from (select distinct file from escape_files) as f
    inner join components as c on {{ full_match('f.file', 'c.path_regex') }}
),

file_components as (
    select
        file,
        component
    from component_matches
    where component_rank = 1
),

-- An escape whose defect no commit names keeps one row with file NULL.
final as (
    select
        e.service,
        e.release,
        e.defect_id,
        e.incident_id,
        f.file,
        case when f.file is not null then coalesce(fc.component, 'unassigned') end as component,
        m.line_coverage,
        -- not measurable (NULL) without a file or a production deployment
        case
            when f.file is null or r.first_production_at is null then null
            when m.coverage_report_id is null then true
            else coalesce(m.line_coverage < s.coverage_gap_threshold, false)
        end as is_gap,
        f.commit_sha,
        f.commits,
        r.first_production_at,
        m.coverage_report_id,
        m.coverage_reported_at,
        m.coverage_file
    from escapes as e
    cross join settings as s
    left join escape_files as f
        on
            e.service = f.service
            and e.release is not distinct from f.release
            and e.defect_id = f.defect_id
            and e.incident_id is not distinct from f.incident_id
    left join release_files as r
        on
            f.service = r.service
            and f.release is not distinct from r.release
            and f.file = r.file
    left join coverage_match as m
        on
            f.service = m.service
            and f.release is not distinct from m.release
            and f.file = m.file
    left join file_components as fc on f.file = fc.file
)

select * from final
