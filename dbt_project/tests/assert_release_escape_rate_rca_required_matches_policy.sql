{{ config(meta={"dagster": {"ref": {"name": "release_escape_rate"}}}) }}
-- rca_required is escape_rate > policy.escape_rate_rca_threshold, NULL when
-- the rate is NULL (docs/metrics.md "Defect escape rate", settled detail 6).
with rates as (
    select * from {{ ref('release_escape_rate') }}
),

settings as (
    select * from {{ ref('stg_policy__settings') }}
)

select r.service, r.release, r.escape_rate, s.escape_rate_rca_threshold, r.rca_required
from rates as r
cross join settings as s
where r.rca_required is distinct from (
    case when r.escape_rate is not null then r.escape_rate > s.escape_rate_rca_threshold end
)
