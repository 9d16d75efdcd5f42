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
