{#- The masked conversation payload, ready for the json_* macros.
    * Postgres: the jsonb document; each json_* macro is a jsonb operator.
    * DuckDB: the document parsed ONCE into a typed STRUCT (`from_json` with the shape below); the
      json_* macros then are struct field accesses and list unnests. Re-parsing JSON text for every
      field and level made DuckDB ~10x slower. Fields missing from a payload are NULL, fields missing
      from the shape are ignored, so unknown fields pass through harmlessly; leaves are read as text
      and cast by the macros (an odd value becomes NULL, never an error).
    `paths` (optional) keeps only those parts of the shape: each is a key or a list of keys from the
    top, e.g. ['participants', 'sessions', 'segments'] (the whole segment struct) or
    ['participants', 'participantId']; building the struct is most of the parse cost, so a model
    asks only for what it reads (the segments model then skips metrics, flows, ...). Postgres
    ignores it.
    A field a model reads must be listed in `genesys_payload_shape` and kept by `paths` (the DuckDB
    build fails otherwise). -#}
{% macro genesys_payload(expr, paths=none) -%}
    {{ return(adapter.dispatch('genesys_payload', 'genesys_finance')(expr, paths)) }}
{%- endmacro %}

{#- Postgres: the document detoasted (decompressed) once per row. Each jsonb operator on a stored
    (TOASTed) column decompresses the whole document again, ~10 times per conversation; `- '{}'`
    (remove no keys) returns the document unchanged, decompressed. It is computed once only when the
    CTE selecting it is not inlined into its readers: end that CTE with `genesys_payload_fence()`. -#}
{% macro postgres__genesys_payload(expr, paths=none) -%}
    (cast({{ expr }} as jsonb) - cast('{}' as text []))
{%- endmacro %}

{% macro duckdb__genesys_payload(expr, paths=none) -%}
    {%- set shape = genesys_finance.genesys_payload_shape() -%}
    {%- if paths is not none -%}
        {%- set shape = genesys_finance.genesys_payload_shape_pruned(shape, paths) -%}
    {%- endif -%}
    from_json(cast({{ expr }} as json), '{{ tojson(shape) }}')
{%- endmacro %}


{#- End of the CTE that selects `genesys_payload(...)`: on Postgres `offset 0` keeps it from being
    inlined into each reference (which would decompress the document again per field). -#}
{% macro genesys_payload_fence() -%}
    {{ return(adapter.dispatch('genesys_payload_fence', 'genesys_finance')()) }}
{%- endmacro %}

{% macro default__genesys_payload_fence() -%}{%- endmacro %}

{% macro postgres__genesys_payload_fence() -%}
    offset 0
{%- endmacro %}


{#- The part of `shape` on `paths` (see `genesys_payload`): a path's last key keeps its whole
    subtree; a list on the way keeps the list with only the kept fields of its elements. -#}
{% macro genesys_payload_shape_pruned(shape, paths) -%}
    {%- set pruned = {} -%}
    {%- for path in paths -%}
        {%- if path is string -%}{%- set path = [path] -%}{%- endif -%}
        {%- set state = {'node': shape, 'out': pruned} -%}
        {%- for key in path -%}
            {%- set node = state.node -%}
            {%- if node is not mapping or key not in node -%}
                {{ exceptions.raise_compiler_error(
                    "genesys_payload: '" ~ (path | join('.')) ~ "' is not in genesys_payload_shape") }}
            {%- endif -%}
            {%- set value = node[key] -%}
            {%- if loop.last -%}
                {%- do state.out.update({key: value}) -%}
            {%- elif value is mapping -%}
                {%- if key not in state.out -%}{%- do state.out.update({key: {}}) -%}{%- endif -%}
                {%- do state.update({'node': value, 'out': state.out[key]}) -%}
            {%- else -%}
                {#- a list of structs -#}
                {%- if key not in state.out -%}{%- do state.out.update({key: [{}]}) -%}{%- endif -%}
                {%- do state.update({'node': value[0], 'out': state.out[key][0]}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(pruned) }}
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
        'sessionId', 'peerId', 'protocolCallId', 'protocolCallIdNormalised', 'edgeId', 'mediaBridgeId', 'selectedAgentId',
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
