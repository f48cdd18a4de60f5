-- Every build appends its headline, keyed by the build's as-of and build time
-- (docs/contract.md, "History tables"), so trends survive rebuilds. The build
-- copies the previous warehouse before writing, so the rows carry over.
with headline as (
    select * from {{ ref('headline_metrics') }}
),

final as (
    {{ append_per_build('headline') }}
)

select * from final
