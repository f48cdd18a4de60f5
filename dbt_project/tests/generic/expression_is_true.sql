{#-
    A boolean SQL expression holds on every row. A NULL result FAILS (unlike
    dbt_utils): write the NULL case out, e.g. `x is null or x >= 0`.
    Use the test's `where` config to restrict the rows.
-#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
