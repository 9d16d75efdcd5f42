{#- Fails for each row whose `conversation_start` (or `column_name`) differs from its conversation's
    in `stg_genesys__conversations`: the child models carry a copy so the query layer's time range
    filters them without a join, and the copy must never drift from the original. -#}
{% test equals_conversation_start(model, column_name) %}

with

failing as (
    select
        child.conversation_id,
        child.{{ column_name }} as child_start,
        conversations.conversation_start
    from {{ model }} as child
    inner join {{ ref('stg_genesys__conversations') }} as conversations
        on child.conversation_id = conversations.conversation_id
    where child.{{ column_name }} <> conversations.conversation_start
)

select * from failing

{% endtest %}
