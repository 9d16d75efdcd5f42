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
            ['participants', 'sessions', 'metrics'],
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

metrics as (
    select
        sessions.conversation_id,
        sessions.extracted_at,
        sessions.conversation_start,
        sessions.participant_id,
        {{ json_text('sessions.session', 'sessionId') }} as session_id,
        metric.ordinal as metric_ordinal,
        metric.value as metric
    from sessions
    {{ json_array_rows('sessions.session', 'metrics', 'metric', required=['name']) }}
),

renamed as (
    select
        ----------  ids
        session_id || '-' || cast(metric_ordinal as {{ dbt.type_string() }}) as session_metric_id,
        session_id,
        participant_id,
        conversation_id,

        ---------- properties
        cast(metric_ordinal as bigint) as metric_ordinal,
        {{ json_text('metric', 'name') }} as metric_name,
        {{ json_bigint('metric', 'value') }} as metric_value,
        {{ json_timestamp('metric', 'emitDate') }} as emitted_at,

        ---------- timestamps (the query layer's time range filters these rows by it, no join)
        cast(conversation_start as {{ type_timestamptz() }}) as conversation_start,

        ---------- lineage
        cast(extracted_at as {{ type_timestamptz() }}) as extracted_at
    from metrics
)

{{ select_masked('renamed') }}
