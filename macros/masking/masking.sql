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
        {#- already masked (the extractor's output): kept as is, without running a regex #}
        when {{ expr }} = 'REDACTED' then 'REDACTED'
        when length({{ expr }}) <= 4 and {{ genesys_finance.consists_of(expr, '0123456789') }}
            then {{ expr }}
        when regexp_replace({{ expr }}, '[^0-9]', '', 'g') = '' then 'REDACTED'
        else right(regexp_replace({{ expr }}, '[^0-9]', '', 'g'), 4)
    end
{%- endmacro %}


{#- Rating prefix: the first `genesys_prefix_digits` digits of an E.164 number (`tel:+...`, `+...`, or
    digits only, e.g. an already-derived prefix); NULL for anything else (SIP URIs, names). -#}
{% macro prefix(expr, digits=none) -%}
    {%- set n = digits or var('genesys_prefix_digits', 4) -%}
    case
        {#- digits only (the extractor's derived prefix): no regex needed #}
        when {{ genesys_finance.consists_of(expr, '0123456789') }} then left({{ expr }}, {{ n }})
        when {{ genesys_finance.regex_matches(expr, '^(tel:)?[+]?[0-9]+$') }}
            then left(regexp_replace({{ expr }}, '[^0-9]', '', 'g'), {{ n }})
    end
{%- endmacro %}


{#- A keyed hash made by the extractor (64 lowercase hex digits) passes; anything else is redacted. -#}
{% macro hmac_checked(expr) -%}
    case
        when {{ expr }} is null then null
        when length({{ expr }}) = 64 and {{ genesys_finance.consists_of(expr, '0123456789abcdef') }}
            then {{ expr }}
        else 'REDACTED'
    end
{%- endmacro %}


{#- SQL predicate: `expr` is a non-empty string of only the (ASCII) characters in `chars`. The masking
    actions test it before their regexes, since the values are nearly always already masked: on
    Postgres the regexes were 40 % of stg_genesys__sessions (4.6 of 11.2 s at 100k conversations),
    and `ltrim` is far cheaper there. DuckDB's regexes (RE2) are fast and its `ltrim` with a
    character list is not: a character-class match. -#}
{% macro consists_of(expr, chars) -%}
    {{ return(adapter.dispatch('consists_of', 'genesys_finance')(expr, chars)) }}
{%- endmacro %}

{% macro default__consists_of(expr, chars) -%}
    ({{ expr }} <> '' and ltrim({{ expr }}, '{{ chars }}') = '')
{%- endmacro %}

{% macro duckdb__consists_of(expr, chars) -%}
    {{ genesys_finance.regex_matches(expr, '^[' ~ chars ~ ']+$') }}
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
        {%- set state = {'masked': false} -%}
        select
        {%- for name, column in columns.items() %}
            {% set action = genesys_finance.pii_action(column) -%}
            {%- if action and action != 'keep' -%}
                {%- do state.update({'masked': true}) -%}
                {{ genesys_finance.mask_pii(relation ~ '.' ~ name, action) }} as {{ name }}
            {%- else -%}
                {{ relation }}.{{ name }}
            {%- endif -%}
            {%- if not loop.last %},{% endif -%}
        {%- endfor %}
        from {{ genesys_finance.computed_once(relation) if state.masked else relation }}
    {%- endif -%}
{%- endmacro %}


{#- `relation` (a CTE) as a FROM item whose columns are each computed once per row. Postgres inlines
    a CTE read once into its reader, so a masking expression naming a column two or three times
    recomputed it each time (a jsonb lookup, a regex); `offset 0` keeps the CTE a step of its own.
    DuckDB eliminates the common subexpressions itself. -#}
{% macro computed_once(relation) -%}
    {{ return(adapter.dispatch('computed_once', 'genesys_finance')(relation)) }}
{%- endmacro %}

{% macro default__computed_once(relation) -%}
    {{ relation }}
{%- endmacro %}

{% macro postgres__computed_once(relation) -%}
    (select * from {{ relation }} offset 0) as {{ relation }}
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
    {#- no '+', no E.164 number: the common case (an extractor-masked last 4) skips the regex -#}
    case
        when strpos({{ expr }}, '+') > 0
            and {{ genesys_finance.regex_matches(expr, '^(tel:)?[+][0-9]+$') }} then {{ expr }}
    end
{%- endmacro %}
