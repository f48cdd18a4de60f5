{#-
    No value of the column is after the build's as-of instant (docs/metrics.md,
    settled detail 1: nothing after the as-of is counted or has happened yet).
    NULL passes.
-#}
{% test not_after_as_of(model, column_name) %}

select m.{{ column_name }} as value_field, a.as_of
from {{ model }} as m
cross join {{ ref('int_as_of') }} as a
where m.{{ column_name }} > a.as_of

{% endtest %}
