{{ config(meta={"dagster": {"ref": {"name": "release_escape_rate"}}}) }}
-- Every release in the releases export has its (service, release) row
-- (settled detail 6), with the export's rca_link.
select r.service, r.release, r.rca_link, e.rca_link as escape_rate_rca_link
from {{ ref('stg_exports__releases') }} as r
left join {{ ref('release_escape_rate') }} as e
    on r.service = e.service and r.release = e.release
where e.service is null
    or e.rca_link is distinct from r.rca_link
