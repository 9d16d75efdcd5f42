{#- The org's own number in a masked address field: its E.164 digits (no `+`) when the value still
    holds more than 4 digits, else NULL. The extractor keeps only the org's numbers (its DID pools and
    the policy's `org_numbers:`) in clear and cuts every other number to its last 4 digits, so on
    extracted data a longer value is an org number. (The same holds for any source masked by the
    extractor's rule; the `is_masked` tests of the `_last4` siblings still guard the rest.) -#}
{% macro org_number(expr) -%}
    case
        when length(regexp_replace({{ expr }}, '[^0-9]', '', 'g')) > 4
            and {{ genesys_finance.regex_matches(expr, '^(tel:)?[+]?[0-9]+$') }}
            then regexp_replace({{ expr }}, '[^0-9]', '', 'g')
    end
{%- endmacro %}
