{#- Exact allocation of an integer amount (micro-units of money, ms, seconds) over weighted shares,
    by largest remainder: each share gets floor(amount * weight / total weight); the units left
    over (fewer than the shares) go one each to the shares with the largest remainder, ties to the
    lower `share_rank` (heaviest share first, then queue id). The parts always sum to the amount:
    no unit created or lost. Two steps, as two selects: `alloc_floor` then `alloc_exact`. -#}


{#- Step 1: the floor part of `amount` (bigint >= 0) for a share of `weight` out of `total`. -#}
{% macro alloc_floor(amount, weight, total) -%}
    {{ genesys_finance.floor_div('(' ~ amount ~ ') * (' ~ weight ~ ')', total) }}
{%- endmacro %}


{#- Remainder numerator of step 1 (what ranks the leftover units). -#}
{% macro alloc_remainder(amount, weight, total) -%}
    (({{ amount }}) * ({{ weight }}) - {{ genesys_finance.alloc_floor(amount, weight, total) }} * ({{ total }}))
{%- endmacro %}


{#- Step 2: the share's exact part, from its floor and remainder columns (step 1's output). -#}
{% macro alloc_exact(amount, floor_col, remainder_col, partition_by, share_rank) -%}
    (
        {{ floor_col }}
        + case
            when row_number() over (
                partition by {{ partition_by }} order by {{ remainder_col }} desc, {{ share_rank }}
            ) <= ({{ amount }}) - sum({{ floor_col }}) over (partition by {{ partition_by }})
                then 1
            else 0
        end
    )
{%- endmacro %}


{#- bigint division rounded down (both operands >= 0). -#}
{% macro floor_div(numerator, denominator) -%}
    {{ return(adapter.dispatch('floor_div', 'genesys_finance')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__floor_div(numerator, denominator) -%}
    (cast({{ numerator }} as bigint) / cast({{ denominator }} as bigint))
{%- endmacro %}

{% macro duckdb__floor_div(numerator, denominator) -%}
    (cast({{ numerator }} as bigint) // cast({{ denominator }} as bigint))
{%- endmacro %}


{#- Money (decimal, 6 places) to integer micro-units and back, exactly. -#}
{% macro to_micros(amount) -%}
    cast(({{ amount }}) * 1000000 as bigint)
{%- endmacro %}

{% macro from_micros(micros) -%}
    cast(cast({{ micros }} as decimal(18, 0)) * cast(0.000001 as decimal(18, 6)) as decimal(18, 6))
{%- endmacro %}


{#- a / b rounded half up, for bigint a >= 0 and b > 0. -#}
{% macro div_half_up(numerator, denominator) -%}
    {{ genesys_finance.floor_div('2 * (' ~ numerator ~ ') + (' ~ denominator ~ ')', '2 * (' ~ denominator ~ ')') }}
{%- endmacro %}
