{%- set complete_variants = genesys_metric_complete_variants() %}

with

sessions as (
    select * from {{ ref('stg_genesys__sessions') }}
    {{ conversation_batch_filter() }}
),

session_metrics as (
    select * from {{ ref('stg_genesys__session_metrics') }}
    {{ conversation_batch_filter() }}
),

-- a metric a session emits more than once (tTalk per talk stretch) is summed
pivoted as (
    {{ pivot_session_metric_sums('session_metrics') }}
),

joined as (
    select
        ----------  ids
        sessions.session_id,
        sessions.participant_id,
        sessions.conversation_id,
        sessions.conversation_start,

        ---------- metrics; a `*Complete` total wins over the sum of its stretches
        {%- for metric_name in genesys_session_metric_names() %}
            {%- if metric_name in complete_variants %}
                coalesce(
                    pivoted.{{ genesys_metric_column(complete_variants[metric_name]) }},
                    pivoted.{{ genesys_metric_column(metric_name) }}
                ) as {{ genesys_metric_column(metric_name) }},
            {%- else %}
                pivoted.{{ genesys_metric_column(metric_name) }},
            {%- endif %}
        {%- endfor %}
        coalesce(pivoted.unknown_metric_count, 0) as unknown_metric_count,

        ---------- lineage
        sessions.extracted_at
    from sessions
    left join pivoted
        on sessions.conversation_id = pivoted.conversation_id
            and sessions.session_id = pivoted.session_id
)

select * from joined
