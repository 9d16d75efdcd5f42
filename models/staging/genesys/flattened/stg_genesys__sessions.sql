{#- the payload parts read below; segments and metrics only for their counts -#}
{%- set payload_paths = [['participants', 'participantId'], ['participants', 'purpose']] %}
{%- for name in [
    'sessionId', 'peerId', 'protocolCallId', 'protocolCallIdNormalised', 'edgeId', 'mediaBridgeId',
    'selectedAgentId',
    'outboundCampaignId', 'scriptId', 'mediaType', 'direction', 'messageType', 'provider',
    'usedRouting', 'flowInType', 'flowOutType', 'recording', 'acwSkipped', 'ani', 'aniPrefix',
    'dnis', 'dnisPrefix', 'sessionDnis', 'sessionDnisPrefix', 'remote', 'flow'] %}
    {%- do payload_paths.append(['participants', 'sessions', name]) %}
{%- endfor %}
{%- do payload_paths.append(['participants', 'sessions', 'segments', 'segmentType']) %}
{%- do payload_paths.append(['participants', 'sessions', 'metrics', 'name']) %}

with

source as (
    select * from {{ raw_conversations() }}
    {{ conversation_batch_filter() }}
),

conversations as (
    select
        conversation_id,
        extracted_at,
        conversation_start,
        {{ genesys_payload('payload', payload_paths) }} as payload
    from source
    {{ genesys_payload_fence() }}
),

-- Elements without what the contract requires (ids; a segment's start) are dropped as they are
-- unnested (`required`). The extractor quarantines such payloads (quarantine.py): this only catches
-- rows that reached raw another way (a load older than that screen).
participants as (
    select
        conversations.conversation_id,
        conversations.extracted_at,
        conversations.conversation_start,
        participant.value as participant
    from conversations
    {{ json_array_rows('conversations.payload', 'participants', 'participant', required=['participantId']) }}
),

sessions as (
    select
        participants.conversation_id,
        participants.extracted_at,
        participants.conversation_start,
        {{ json_text('participants.participant', 'participantId') }} as participant_id,
        {{ json_text('participants.participant', 'purpose') }} as participant_purpose,
        session.ordinal as session_ordinal,
        session.value as session
    from participants
    {{ json_array_rows('participants.participant', 'sessions', 'session', required=['sessionId']) }}
),

renamed as (
    select
        ----------  ids
        {{ json_text('session', 'sessionId') }} as session_id,
        participant_id,
        conversation_id,
        {{ json_text('session', 'peerId') }} as peer_session_id,
        {{ json_text('session', 'protocolCallId') }} as sip_call_id,
        -- NULL for conversations extracted before the extractor wrote it (README, migration)
        {{ json_text('session', 'protocolCallIdNormalised') }} as sip_call_id_normalised,
        {{ json_text('session', 'edgeId') }} as edge_id,
        {{ json_text('session', 'mediaBridgeId') }} as media_bridge_id,
        {{ json_text('session', 'selectedAgentId') }} as selected_agent_id,
        {{ json_text('session', 'outboundCampaignId') }} as outbound_campaign_id,
        {{ json_text('session', 'scriptId') }} as script_id,

        ---------- properties
        cast(session_ordinal as bigint) as session_ordinal,
        participant_purpose,
        {{ json_text('session', 'mediaType') }} as media_type,
        {{ json_text('session', 'direction') }} as direction,
        {{ json_text('session', 'messageType') }} as message_type,
        {{ json_text('session', 'provider') }} as provider,
        {{ json_text('session', 'usedRouting') }} as used_routing,
        {{ json_text('session', 'flowInType') }} as flow_in_type,
        {{ json_text('session', 'flowOutType') }} as flow_out_type,
        {{ json_boolean('session', 'recording') }} as is_recorded,
        {{ json_boolean('session', 'acwSkipped') }} as is_acw_skipped,

        ---------- masked addresses (last 4 digits, and the rating prefix derived before truncation)
        {{ json_text('session', 'ani') }} as ani_last4,
        coalesce(
            {{ json_text('session', 'aniPrefix') }},
            {{ e164_or_null(json_text('session', 'ani')) }}
        ) as ani_prefix,
        {{ json_text('session', 'dnis') }} as dnis_last4,
        coalesce(
            {{ json_text('session', 'dnisPrefix') }},
            {{ e164_or_null(json_text('session', 'dnis')) }}
        ) as dnis_prefix,
        {{ json_text('session', 'sessionDnis') }} as session_dnis_last4,
        coalesce(
            {{ json_text('session', 'sessionDnisPrefix') }},
            {{ e164_or_null(json_text('session', 'sessionDnis')) }}
        ) as session_dnis_prefix,
        ---------- the org's own numbers, in clear (not PII): E.164 digits, else NULL
        {{ json_text('session', 'ani') }} as ani_org_number,
        {{ json_text('session', 'dnis') }} as dnis_org_number,
        {{ json_text('session', 'sessionDnis') }} as session_dnis_org_number,
        {{ json_text('session', 'remote') }} as remote,

        ---------- flow
        {{ json_text('session', ['flow', 'flowId']) }} as flow_id,
        {{ json_text('session', ['flow', 'flowName']) }} as flow_name,
        {{ json_text('session', ['flow', 'flowType']) }} as flow_type,
        {{ json_text('session', ['flow', 'flowVersion']) }} as flow_version,
        {{ json_text('session', ['flow', 'entryType']) }} as flow_entry_type,
        {{ json_text('session', ['flow', 'exitReason']) }} as flow_exit_reason,
        {{ json_text('session', ['flow', 'transferType']) }} as flow_transfer_type,

        ---------- counts
        {{ json_array_length('session', 'segments') }} as segment_count,
        {{ json_array_length('session', 'metrics') }} as metric_count,

        ---------- timestamps (the query layer's time range filters these rows by it, no join)
        cast(conversation_start as {{ type_timestamptz() }}) as conversation_start,

        ---------- lineage
        cast(extracted_at as {{ type_timestamptz() }}) as extracted_at
    from sessions
)

{{ select_masked('renamed') }}
