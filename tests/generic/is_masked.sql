{#- Fails for each value of a PII column that does not have the shape its masking action produces:
    `redact` -> 'REDACTED'; `last4` -> up to 4 digits or 'REDACTED'; `prefix` -> digits only;
    `hmac` -> 64 lowercase hex digits (or 'REDACTED'). Give the same action as the column's
    `meta: {pii: ...}`. -#}
{% test is_masked(model, column_name, action) %}

with

unmasked as (
    select {{ column_name }} as value
    from {{ model }}
    where {{ column_name }} is not null
      and not ({{ genesys_finance.masked_shape(column_name, action) }})
)

select * from unmasked

{% endtest %}

