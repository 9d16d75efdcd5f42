{#- Fails for each row where `expression` is false (NULL passes only if `where` excludes it). -#}
{% test expression_is_true(model, expression, column_name=none) %}

with

failing as (
    select *
    from {{ model }}
    where not ({{ expression }})
)

select * from failing

{% endtest %}
