{#- dbt-side masking: the same actions as the extractor's PII policy (docs/internals.md), for data that
    did not come through the extractor. Each action is idempotent on already-masked values, so applying
    it to extractor output changes nothing. There is no `hmac` action here on purpose: a key in SQL
    leaks into compiled SQL, the manifest and the docs; the extractor does the keyed hash, and dbt only
    checks that a value looks like one. -#}

{#- Any value becomes 'REDACTED'; NULL stays NULL. -#}
{% macro redact(expr) -%}
    case when {{ expr }} is not null then 'REDACTED' end
{%- endmacro %}


{#- Last 4 digits of a number; a value with no digits becomes 'REDACTED'. -#}
{% macro last4(expr) -%}
    case
        when {{ expr }} is null then null
        when regexp_replace({{ expr }}, '[^0-9]', '', 'g') = '' then 'REDACTED'
        else right(regexp_replace({{ expr }}, '[^0-9]', '', 'g'), 4)
    end
{%- endmacro %}


{#- Rating prefix: the first `genesys_prefix_digits` digits of an E.164 number (`tel:+...`, `+...`, or
    digits only, e.g. an already-derived prefix); NULL for anything else (SIP URIs, names). -#}
{% macro prefix(expr, digits=none) -%}
    {%- set n = digits or var('genesys_prefix_digits', 4) -%}
    case
        when {{ genesys_finance.regex_matches(expr, '^(tel:)?[+]?[0-9]+$') }}
            then left(regexp_replace({{ expr }}, '[^0-9]', '', 'g'), {{ n }})
    end
{%- endmacro %}


{#- A keyed hash made by the extractor (64 lowercase hex digits) passes; anything else is redacted. -#}
{% macro hmac_checked(expr) -%}
    case
        when {{ expr }} is null then null
        when {{ genesys_finance.regex_matches(expr, '^[0-9a-f]{64}$') }} then {{ expr }}
        else 'REDACTED'
    end
{%- endmacro %}


{#- Apply the action named by a column's `meta: {pii: ...}`. -#}
{% macro mask_pii(expr, action) -%}
    {%- if action == 'redact' -%}{{ genesys_finance.redact(expr) }}
    {%- elif action == 'last4' -%}{{ genesys_finance.last4(expr) }}
    {%- elif action == 'prefix' -%}{{ genesys_finance.prefix(expr) }}
    {%- elif action == 'hmac' -%}{{ genesys_finance.hmac_checked(expr) }}
    {%- elif action == 'keep' -%}{{ expr }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown pii action '" ~ action ~ "' (redact, last4, prefix, hmac, keep)") }}
    {%- endif -%}
{%- endmacro %}


{#- The PII action of a column of the current model, from its YAML `meta` (or `config.meta`). -#}
{% macro pii_action(column) -%}
    {%- set meta = column.get('meta') or {} -%}
    {%- set config_meta = (column.get('config') or {}).get('meta') or {} -%}
    {{ return(meta.get('pii') or config_meta.get('pii')) }}
{%- endmacro %}


{#- The YAML columns of the model being built. Unit tests compile models without them (and with an
    empty graph), so there the select is `select *`: masking is tested on real builds instead. -#}
{% macro documented_columns() -%}
    {%- if model.columns -%}
        {{ return(model.columns) }}
    {%- endif -%}
    {{ return({}) }}
{%- endmacro %}


{#- `select <every documented column, PII columns masked> from <relation>`: the last step of each
    staging model, so masking follows the YAML tags and a column cannot be forgotten. The YAML lists
    every column (contracts need it). -#}
{% macro select_masked(relation) -%}
    {%- set columns = genesys_finance.documented_columns() -%}
    {%- if not execute or not columns -%}
        select * from {{ relation }}
    {%- else -%}
        select
        {%- for name, column in columns.items() %}
            {% set action = genesys_finance.pii_action(column) -%}
            {%- if action and action != 'keep' -%}
                {{ genesys_finance.mask_pii(relation ~ '.' ~ name, action) }} as {{ name }}
            {%- else -%}
                {{ relation }}.{{ name }}
            {%- endif -%}
            {%- if not loop.last %},{% endif -%}
        {%- endfor %}
        from {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#- SQL predicate: `column` holds a value of the shape `action` produces (used by the PII tests). -#}
{% macro masked_shape(column, action) -%}
    {%- if action == 'redact' -%}
        {{ column }} = 'REDACTED'
    {%- elif action == 'last4' -%}
        {{ column }} = 'REDACTED' or {{ genesys_finance.regex_matches(column, '^[0-9]{1,4}$') }}
    {%- elif action == 'prefix' -%}
        {{ genesys_finance.regex_matches(column, '^[0-9]{1,15}$') }}
    {%- elif action == 'hmac' -%}
        {{ column }} = 'REDACTED' or {{ genesys_finance.regex_matches(column, '^[0-9a-f]{64}$') }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- `expr` when it is a clear E.164 number (`tel:+...` or `+...`), else NULL: the source of a rating
    prefix for payloads that did not come through the extractor (which derives `<field>Prefix`). -#}
{% macro e164_or_null(expr) -%}
    case when {{ genesys_finance.regex_matches(expr, '^(tel:)?[+][0-9]+$') }} then {{ expr }} end
{%- endmacro %}
