-- SLA (docs/metrics.md "SLA") and priority score (docs/metrics.md "Priority score") per
-- defect known at the as-of, to be joined into fct_defects by defect_id.
-- Recurrence comes from int_defect_link_clusters (explicit duplicate links
-- and above-threshold candidate pairs, connected).
with defects as (
    select
        defect_id,
        severity,
        created_at,
        resolved_at_as_of,
        users_affected,
        has_workaround
    from {{ ref('int_defects') }}
),

as_of as (
    select as_of from {{ ref('int_as_of') }}
),

sla as (
    select
        severity,
        sla_hours
    from {{ ref('stg_policy__sla') }}
),

severities as (
    select
        severity,
        priority_factor
    from {{ ref('stg_policy__severities') }}
),

weights as (
    select
        severity,
        recurrence,
        users,
        no_workaround
    from {{ ref('stg_policy__priority_weights') }}
),

clusters as (
    select
        defect_id,
        cluster_id,
        is_recurrence
    from {{ ref('int_defect_link_clusters') }}
),

-- The `recurrences` of the priority formula: every member of a cluster gets
-- the cluster's count.
cluster_recurrences as (
    select
        cluster_id,
        count(*) filter (where is_recurrence) as recurrences
    from clusters
    group by cluster_id
),

measured as (
    select
        d.defect_id,
        s.sla_hours as sla_target_hours,
        {{ hours_between('d.created_at', 'coalesce(d.resolved_at_as_of, a.as_of)') }} as sla_elapsed_hours,
        r.is_recurrence,
        cr.recurrences,
        sv.priority_factor as sev,
        least(1.0, ln(1 + cr.recurrences) / ln(11)) as rec,
        least(1.0, log10(1 + coalesce(d.users_affected, 0)) / 6) as users,
        case when d.has_workaround then 0.0 else 1.0 end as no_workaround
    from defects as d
    cross join as_of as a
    left join sla as s on d.severity = s.severity
    left join severities as sv on d.severity = sv.severity
    inner join clusters as r on d.defect_id = r.defect_id
    inner join cluster_recurrences as cr on r.cluster_id = cr.cluster_id
),

final as (
    select
        m.defect_id,
        m.sla_target_hours,
        m.sla_elapsed_hours,
        m.sla_elapsed_hours > m.sla_target_hours as sla_breached,
        m.is_recurrence,
        m.recurrences,
        -- rounded to 4 decimals so the last floating-point digit of ln/log10
        -- cannot differ between machines
        round(100 * (
            w.severity * m.sev + w.recurrence * m.rec + w.users * m.users + w.no_workaround * m.no_workaround
        ), 4) as priority_score
    from measured as m
    cross join weights as w
)

select * from final
