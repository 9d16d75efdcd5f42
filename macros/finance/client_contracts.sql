{#- Which client a leg (or a queue's share of it) serves: the one rule `int_voice_legs_rated` and
    `fct_revenue_attribution` both apply. A `client_contracts` row serves the queue it names, or,
    without a queue, every queue of its division; it is in force on the UTC day `day` when
    effective_from <= day < effective_to (open end: null). Of several rows, the queue's own beats its
    division's, then the latest effective_from, then the client name. -#}

{#- Join condition between `row` (an alias with queue_id, division_id) and `contract` (an alias of
    `int_client_contracts`) on UTC day `day` (SQL). -#}
{% macro contract_serves(row, contract, day) -%}
    (
        {{ row }}.queue_id = {{ contract }}.queue_id
        or ({{ contract }}.queue_id is null and {{ row }}.division_id = {{ contract }}.division_id)
    )
    and {{ day }} >= {{ contract }}.effective_from
    and ({{ contract }}.effective_to is null or {{ day }} < {{ contract }}.effective_to)
{%- endmacro %}


{#- `order by` of a row's serving contracts, the preferred first (number it with row_number). -#}
{% macro contract_preference(contract) -%}
    case when {{ contract }}.queue_id is not null then 0 else 1 end asc,
    {{ contract }}.effective_from desc,
    {{ contract }}.client asc
{%- endmacro %}
