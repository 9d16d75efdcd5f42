{#- Session metrics accepted by detail queries (reference §7.8). Each becomes a column of
    `int_session_metrics_pivoted`: `t*` -> `t_<name>_ms` (milliseconds), `n*` -> `n_<name>` (count),
    `o*` -> `o_<name>` (observed value). `*Complete` variants are not columns of their own: they are
    the preferred source of their base column (see `genesys_metric_complete_variants`). -#}
{% macro genesys_session_metric_names() -%}
    {{ return([
        'nBlindTransferred', 'nBotInteractions', 'nCallbackAttempts', 'nCallbackOverSla',
        'nCallbackScheduled', 'nCobrowseSessions', 'nConnected', 'nConsult', 'nConsultTransferred',
        'nConversations', 'nError', 'nFlow', 'nFlowMilestone', 'nFlowOutcome', 'nFlowOutcomeFailed',
        'nOffered', 'nOutbound', 'nOutboundAbandoned', 'nOutboundAttempted', 'nOutboundConnected',
        'nOverSla', 'nStateTransitionError', 'nTakeover', 'nTransferred',
        'oAudioMessageCount', 'oExternalAudioMessageCount', 'oExternalMediaCount', 'oFlowMilestone',
        'oMediaCount', 'oMessageCount', 'oMessageSegmentCount', 'oMessageTurn',
        'oSkillExpressionApplications',
        'tAbandon', 'tAcd', 'tActiveCallback', 'tAcw', 'tAgentResponseTime', 'tAgentVideoConnected',
        'tAlert', 'tAnswered', 'tAverageAgentResponseTime', 'tAverageCustomerResponseTime',
        'tBarging', 'tCoaching', 'tConnected', 'tContacting', 'tConversationDuration', 'tDialing',
        'tFirstConnect', 'tFirstDial', 'tFirstEngagement', 'tFirstResponse', 'tFlow',
        'tFlowDisconnect', 'tFlowExit', 'tFlowOut', 'tFlowOutcome', 'tHandle', 'tHeld', 'tIvr',
        'tMonitoring', 'tNotResponding', 'tPark', 'tScreenMonitoring', 'tShortAbandon',
        'tSnippetRecord', 'tTalk', 'tTransmitting', 'tUserResponseTime', 'tVoicemail',
    ]) }}
{%- endmacro %}


{#- Base metric -> its `*Complete` variant, emitted once at the end with the whole total. -#}
{% macro genesys_metric_complete_variants() -%}
    {{ return({
        'tActiveCallback': 'tActiveCallbackComplete',
        'tCoaching': 'tCoachingComplete',
        'tHeld': 'tHeldComplete',
        'tMonitoring': 'tMonitoringComplete',
        'tPark': 'tParkComplete',
        'tTalk': 'tTalkComplete',
    }) }}
{%- endmacro %}


{#- Column name of a metric: tTalk -> t_talk_ms, nTransferred -> n_transferred. -#}
{% macro genesys_metric_column(metric_name) -%}
    {%- set snake = modules.re.sub('([A-Z])', '_\\1', metric_name).lower() -%}
    {{ return(snake ~ ('_ms' if metric_name.startswith('t') else '')) }}
{%- endmacro %}


{#- Every metric name the pivot knows (base names and `*Complete` variants). -#}
{% macro genesys_known_metric_names() -%}
    {{ return(genesys_finance.genesys_session_metric_names()
        + (genesys_finance.genesys_metric_complete_variants().values() | list)) }}
{%- endmacro %}


{#- SQL predicate: `column` names a metric of the reference list (one name per line). -#}
{% macro is_known_genesys_metric(column) -%}
    {{ column }} in (
        {%- for name in genesys_finance.genesys_known_metric_names() %}
        '{{ name }}'{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}


{#- `select conversation_id, session_id, <one column per known metric name: the sum of its values>,
    unknown_metric_count from <relation> group by ...`: the pivot of `int_session_metrics_pivoted`. -#}
{% macro pivot_session_metric_sums(relation) -%}
    {{ return(adapter.dispatch('pivot_session_metric_sums', 'genesys_finance')(relation)) }}
{%- endmacro %}

{#- One aggregation pass, one filtered sum per metric name. -#}
{% macro default__pivot_session_metric_sums(relation) -%}
    select
        conversation_id,
        session_id,
        {%- for metric_name in genesys_finance.genesys_known_metric_names() %}
            cast(sum(metric_value) filter (where metric_name = '{{ metric_name }}') as bigint)
                as {{ genesys_finance.genesys_metric_column(metric_name) }},
        {%- endfor %}
        cast(count(distinct case
            when not {{ genesys_finance.is_known_genesys_metric('metric_name') }} then metric_name
        end) as bigint) as unknown_metric_count
    from {{ relation }}
    group by 1, 2
{%- endmacro %}

{#- DuckDB: ~80 filtered aggregates per row made this the slowest step of the build (a hash aggregate
    updates every one of them for every metric row). Instead: one sum per (session, metric name),
    then DuckDB's PIVOT (one column per known name; unknown names go to one bucket whose sum counts
    them), ~25 % less CPU than one MAP per session read once per column (2.9 vs 3.7 s at 100k
    conversations); same values (a name's sum, NULL when absent). A NULL name is neither known nor
    unknown, as in the default. -#}
{% macro duckdb__pivot_session_metric_sums(relation) -%}
    {%- set unknown = '(unknown)' -%}
    select
        conversation_id,
        session_id,
        {%- for metric_name in genesys_finance.genesys_known_metric_names() %}
            cast("{{ metric_name }}" as bigint) as {{ genesys_finance.genesys_metric_column(metric_name) }},
        {%- endfor %}
        cast(coalesce("{{ unknown }}", 0) as bigint) as unknown_metric_count
    from (
        pivot (
            select
                conversation_id,
                session_id,
                case when is_known then metric_name when not is_known then '{{ unknown }}' end as pivot_name,
                case when is_known then total else 1 end as pivot_value
            from (
                select
                    conversation_id,
                    session_id,
                    metric_name,
                    sum(metric_value) as total,
                    {{ genesys_finance.is_known_genesys_metric('metric_name') }} as is_known
                from {{ relation }}
                group by conversation_id, session_id, metric_name
            ) as metric_totals
        )
        on pivot_name in (
            {%- for metric_name in genesys_finance.genesys_known_metric_names() %}
            '{{ metric_name }}',
            {%- endfor %}
            '{{ unknown }}'
        )
        using sum(pivot_value)
        group by conversation_id, session_id
    ) as session_totals
{%- endmacro %}
