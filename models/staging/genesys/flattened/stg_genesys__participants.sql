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
            ['participants', 'participantId'], ['participants', 'userId'],
            ['participants', 'teamId'], ['participants', 'purpose'],
            ['participants', 'participantName'], ['participants', 'flaggedReason'],
            ['participants', 'screenRecording'], ['participants', 'sessions', 'sessionId'],
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
        participant.ordinal as participant_ordinal,
        participant.value as participant
    from conversations
    {{ json_array_rows('conversations.payload', 'participants', 'participant', required=['participantId']) }}
),

renamed as (
    select
        ----------  ids
        {{ json_text('participant', 'participantId') }} as participant_id,
        conversation_id,
        {{ json_text('participant', 'userId') }} as user_id,
        {{ json_text('participant', 'teamId') }} as team_id,

        ---------- properties
        cast(participant_ordinal as bigint) as participant_ordinal,
        {{ json_text('participant', 'purpose') }} as purpose,
        {{ json_text('participant', 'participantName') }} as participant_name,
        {{ json_text('participant', 'flaggedReason') }} as flagged_reason,
        {{ json_boolean('participant', 'screenRecording') }} as is_screen_recording,
        {{ json_array_length('participant', 'sessions') }} as session_count,

        ---------- timestamps (the query layer's time range filters these rows by it, no join)
        cast(conversation_start as {{ type_timestamptz() }}) as conversation_start,

        ---------- lineage
        cast(extracted_at as {{ type_timestamptz() }}) as extracted_at
    from participants
)

{{ select_masked('renamed') }}
