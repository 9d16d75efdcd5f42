{#- The masked conversation payload, ready for the json_* macros.
    * Postgres: the jsonb document; each json_* macro is a jsonb operator.
    * DuckDB: the document parsed ONCE into a typed STRUCT (`from_json` with the shape below); the
      json_* macros then are struct field accesses and list unnests. Re-parsing JSON text for every
      field and level made DuckDB ~10x slower. Fields missing from a payload are NULL, fields missing
      from the shape are ignored, so unknown fields pass through harmlessly; leaves are read as text
      and cast by the macros (an odd value becomes NULL, never an error).
    A field a model reads must be listed in `genesys_payload_shape` (the DuckDB build fails otherwise). -#}
{% macro genesys_payload(expr) -%}
    {{ return(adapter.dispatch('genesys_payload', 'genesys_finance')(expr)) }}
{%- endmacro %}

{% macro postgres__genesys_payload(expr) -%}
    cast({{ expr }} as jsonb)
{%- endmacro %}

{% macro duckdb__genesys_payload(expr) -%}
    from_json(cast({{ expr }} as json), '{{ tojson(genesys_finance.genesys_payload_shape()) }}')
{%- endmacro %}


{#- Every payload field the models read (reference §7), as a DuckDB JSON structure. -#}
{% macro genesys_payload_shape() -%}
    {%- set text = 'VARCHAR' -%}
    {%- set segment = {} -%}
    {%- for name in [
        'segmentStart', 'segmentEnd', 'segmentType', 'queueId', 'groupId', 'wrapUpCode',
        'disconnectType', 'errorCode', 'requestedLanguageId', 'conference',
        'sourceConversationId', 'destinationConversationId'] -%}
        {%- do segment.update({name: text}) -%}
    {%- endfor -%}
    {%- do segment.update({'q850ResponseCodes': [text], 'sipResponseCodes': [text]}) -%}
    {%- set flow = {} -%}
    {%- for name in ['flowId', 'flowName', 'flowType', 'flowVersion', 'entryType', 'exitReason',
                     'transferType'] -%}
        {%- do flow.update({name: text}) -%}
    {%- endfor -%}
    {%- set session = {} -%}
    {%- for name in [
        'sessionId', 'peerId', 'protocolCallId', 'edgeId', 'mediaBridgeId', 'selectedAgentId',
        'outboundCampaignId', 'scriptId', 'mediaType', 'direction', 'messageType', 'provider',
        'usedRouting', 'flowInType', 'flowOutType', 'recording', 'acwSkipped', 'ani', 'aniPrefix',
        'dnis', 'dnisPrefix', 'sessionDnis', 'sessionDnisPrefix', 'remote'] -%}
        {%- do session.update({name: text}) -%}
    {%- endfor -%}
    {%- do session.update({
        'flow': flow,
        'segments': [segment],
        'metrics': [{'name': text, 'value': text, 'emitDate': text}],
    }) -%}
    {%- set participant = {} -%}
    {%- for name in ['participantId', 'userId', 'teamId', 'purpose', 'participantName',
                     'flaggedReason', 'screenRecording'] -%}
        {%- do participant.update({name: text}) -%}
    {%- endfor -%}
    {%- do participant.update({'sessions': [session]}) -%}
    {%- set conversation = {} -%}
    {%- for name in ['conversationId', 'conversationStart', 'conversationEnd', 'externalTag',
                     'originatingDirection', 'conversationInitiator', 'selfServed',
                     'mediaStatsMinConversationMos', 'mediaStatsMinConversationRFactor'] -%}
        {%- do conversation.update({name: text}) -%}
    {%- endfor -%}
    {%- do conversation.update({'divisionIds': [text], 'participants': [participant]}) -%}
    {{ return(conversation) }}
{%- endmacro %}
