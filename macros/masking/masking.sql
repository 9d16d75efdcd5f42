{#- dbt-side masking: the same actions as the extractor's PII policy (docs/internals.md), for data that
    did not come through the extractor. Each action is idempotent on already-masked values, so applying
    it to extractor output changes nothing. There is no `hmac` action here on purpose: a key in SQL
    leaks into compiled SQL, the manifest and the docs; the extractor does the keyed hash, and dbt only
    checks that a value looks like one. -#}

{#- Any value becomes 'REDACTED'; NULL stays NULL. -#}
{% macro redact(expr) -%}
    case when {{ expr }} is not null then 'REDACTED' end
{%- endmacro %}


{#- Where the number is in an address: one rule with the extractor's `_split_number` (masking.py;
    docs/internals.md, "Where a number is masked"; test_masking_sql compares them on both targets).
    Surrounding spaces go. A `sip:`/`sips:` URI's number is its user part (up to the first `@`, then
    up to the first `;`), where `%2B` reads `+` and other escapes are dropped. A `tel:` scheme is
    dropped and the number ends at its first `;` (`;ext=`, `;phone-context=`); so does a bare one. -#}
{% macro number_part(expr) -%}
    {%- set text = 'trim(' ~ expr ~ ')' -%}
    case
        when lower(left({{ text }}, 4)) = 'sip:' or lower(left({{ text }}, 5)) = 'sips:'
            then regexp_replace(
                replace(replace(
                    split_part(split_part(substr({{ text }}, strpos({{ text }}, ':') + 1), '@', 1), ';', 1),
                    '%2B', '+'), '%2b', '+'),
                '%[0-9A-Fa-f]{2}', '', 'g'
            )
        when lower(left({{ text }}, 4)) = 'tel:' then split_part(substr({{ text }}, 5), ';', 1)
        else split_part({{ text }}, ';', 1)
    end
{%- endmacro %}


{#- The digits of the number in an address ('' when it has none). -#}
{% macro number_digits(expr) -%}
    regexp_replace({{ genesys_finance.number_part(expr) }}, '[^0-9]', '', 'g')
{%- endmacro %}


{#- SQL predicate: the number in an address is E.164 (`+` and digits, visual separators `-. ()` aside). -#}
{% macro number_is_e164(expr) -%}
    {{ genesys_finance.regex_matches(
        "regexp_replace(" ~ genesys_finance.number_part(expr) ~ ", '[-. ()]', '', 'g')", '^[+][0-9]+$') }}
{%- endmacro %}


{#- SQL predicate, cheap: `expr` may hold an E.164 number (a `+`, maybe escaped). Masked values (the
    extractor's last 4 digits) never do, so the regexes above run only on clear numbers. -#}
{% macro may_be_e164(expr) -%}
    (strpos({{ expr }}, '+') > 0 or strpos(lower({{ expr }}), '%2b') > 0)
{%- endmacro %}


{#- The rating prefix of an address, as the extractor derives it: the first `genesys_prefix_digits`
    digits of an E.164 number; NULL for anything else. -#}
{% macro number_prefix(expr, digits=none) -%}
    {%- set n = digits or var('genesys_prefix_digits') -%}
    case
        {{ genesys_finance.e164_digits_when(expr, 'left(', ', ' ~ n ~ ')') }}
    end
{%- endmacro %}


{#- Last 4 digits of a number; a value with no digits becomes 'REDACTED'. -#}
{% macro last4(expr) -%}
    case
        when {{ expr }} is null then null
        {#- already masked (the extractor's output): kept as is, without running a regex #}
        when {{ expr }} = 'REDACTED' then 'REDACTED'
        when length({{ expr }}) <= 4 and {{ genesys_finance.consists_of(expr, '0123456789') }}
            then {{ expr }}
        {#- a clear E.164 number (the org's, kept by the extractor): no parsing #}
        when {{ genesys_finance.regex_matches(expr, '^(tel:)?[+][0-9]{4,}$') }} then right({{ expr }}, 4)
        else coalesce(right(nullif({{ genesys_finance.number_digits(expr) }}, ''), 4), 'REDACTED')
    end
{%- endmacro %}


{#- PII action `prefix`: a rating prefix column. Digits only is an already-derived prefix (the
    extractor's `<field>Prefix`), cut to `genesys_prefix_digits`; an address gives `number_prefix`. -#}
{% macro prefix(expr, digits=none) -%}
    {%- set n = digits or var('genesys_prefix_digits') -%}
    case
        {#- digits only (the extractor's derived prefix): no regex needed #}
        when {{ genesys_finance.consists_of(expr, '0123456789') }} then left({{ expr }}, {{ n }})
        else {{ genesys_finance.number_prefix(expr, n) }}
    end
{%- endmacro %}


{#- PII action `org_number`: the E.164 digits (no `+`) of one of the org's own numbers, else NULL.
    The extractor keeps an org number in clear and cuts every other one, so an E.164 value in a
    masked payload is the org's; digits only (5 to 15) is an already-derived org number. -#}
{% macro org_number(expr) -%}
    case
        {#- a masked last 4 (the common case): no regex #}
        when length({{ expr }}) <= 4 then null
        when {{ genesys_finance.consists_of(expr, '0123456789') }}
            then case when length({{ expr }}) <= 15 then {{ expr }} end
        {{ genesys_finance.e164_digits_when(expr) }}
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
    {%- elif action == 'org_number' -%}{{ genesys_finance.org_number(expr) }}
    {%- elif action == 'hmac' -%}{{ genesys_finance.hmac_checked(expr) }}
    {%- elif action == 'keep' -%}{{ expr }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown pii action '" ~ action ~ "' (redact, last4, prefix, org_number, hmac, keep)") }}
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
    {%- elif action == 'org_number' -%}
        {{ genesys_finance.regex_matches(column, '^[0-9]{5,15}$') }}
    {%- elif action == 'hmac' -%}
        {{ column }} = 'REDACTED' or {{ genesys_finance.regex_matches(column, '^[0-9a-f]{64}$') }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- The E.164 digits of `expr` when it is a clear E.164 number, else NULL: the source of a rating
    prefix (through the `prefix` action) for payloads without the extractor's `<field>Prefix`. -#}
{% macro e164_or_null(expr) -%}
    case
        {{ genesys_finance.e164_digits_when(expr) }}
    end
{%- endmacro %}


{#- CASE branches: the E.164 digits of `expr` (wrapped in `before`...`after`) when it is a clear
    E.164 number. The extractor's clear form (`+digits`, `tel:+digits`: the org's numbers, about
    half the voice sessions' numbers) takes one anchored match and a substr; anything else that may
    be E.164 goes through the general address parsing (`number_part`), two regex pipelines. -#}
{% macro e164_digits_when(expr, before='', after='') -%}
    when {{ genesys_finance.regex_matches(expr, '^(tel:)?[+][0-9]+$') }}
            then {{ before }}substr({{ expr }}, strpos({{ expr }}, '+') + 1){{ after }}
        when {{ genesys_finance.may_be_e164(expr) }} and {{ genesys_finance.number_is_e164(expr) }}
            then {{ before }}{{ genesys_finance.number_digits(expr) }}{{ after }}
{%- endmacro %}
