-- Deployments that had finished at the as-of; `served` per settled detail 3.
with deployments as (
    select * from {{ ref('stg_exports__deployments') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

final as (
    select
        d.*,
        d.status in ('succeeded', 'rolled_back') as served,
        cast({{ dbt.date_trunc('week', 'd.finished_at') }} as date) as week_start
    from deployments as d
    cross join as_of as a
    where d.finished_at <= a.as_of
)

select * from final
