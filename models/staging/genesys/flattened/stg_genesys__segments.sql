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
        {{ genesys_payload('payload', [
            ['participants', 'participantId'],
            ['participants', 'sessions', 'sessionId'],
            ['participants', 'sessions', 'segments'],
        ]) }} as payload
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
        session.value as session
    from participants
    {{ json_array_rows('participants.participant', 'sessions', 'session', required=['sessionId']) }}
),

segments as (
    select
        sessions.conversation_id,
        sessions.extracted_at,
        sessions.conversation_start,
        sessions.participant_id,
        {{ json_text('sessions.session', 'sessionId') }} as session_id,
        segment.ordinal as segment_ordinal,
        segment.value as segment
    from sessions
    {{ json_array_rows(
        'sessions.session', 'segments', 'segment', required_timestamps=['segmentStart']
    ) }}
),

typed as (
    select
        conversation_id,
        participant_id,
        session_id,
        cast(segment_ordinal as bigint) as segment_ordinal,
        {{ json_timestamp('segment', 'segmentStart') }} as segment_start,
        {{ json_timestamp('segment', 'segmentEnd') }} as segment_end,
        {{ json_text('segment', 'segmentType') }} as segment_type,
        {{ json_text('segment', 'queueId') }} as queue_id,
        {{ json_text('segment', 'groupId') }} as group_id,
        {{ json_text('segment', 'wrapUpCode') }} as wrapup_code_id,
        {{ json_text('segment', 'disconnectType') }} as disconnect_type,
        {{ json_text('segment', 'errorCode') }} as error_code,
        {{ json_text('segment', 'requestedLanguageId') }} as requested_language_id,
        {{ json_boolean('segment', 'conference') }} as is_conference,
        {{ json_text('segment', 'sourceConversationId') }} as source_conversation_id,
        {{ json_text('segment', 'destinationConversationId') }} as destination_conversation_id,
        {{ json_bigint('segment', ['q850ResponseCodes', 0]) }} as q850_response_code,
        {{ json_bigint('segment', ['sipResponseCodes', 0]) }} as sip_response_code,
        cast(conversation_start as {{ type_timestamptz() }}) as conversation_start,
        cast(extracted_at as {{ type_timestamptz() }}) as extracted_at
    from segments
),

renamed as (
    select
        ----------  ids
        session_id || '-' || cast(segment_ordinal as {{ dbt.type_string() }}) as segment_id,
        session_id,
        participant_id,
        conversation_id,
        queue_id,
        group_id,
        wrapup_code_id,
        source_conversation_id,
        destination_conversation_id,

        ---------- properties
        segment_ordinal,
        segment_type,
        disconnect_type,
        error_code,
        requested_language_id,
        is_conference,
        q850_response_code,
        sip_response_code,

        ---------- timestamps
        conversation_start,
        segment_start,
        segment_end,
        segment_end is null as is_open,
        {{ duration_ms('segment_start', 'segment_end') }} as segment_duration_ms,

        ---------- lineage
        extracted_at
    -- Postgres would compute each time up to three times below (a regex and a cast each)
    from {{ computed_once('typed') }}
)

{{ select_masked('renamed') }}
