-- the batch model itself: its own rows are replaced by key (see dbt_project.yml)
{{ config(incremental_strategy='delete+insert', unique_key='conversation_id') }}

with

source as (
    select * from {{ raw_conversations() }}
    {{ conversation_batch_filter() }}
),

payload as (
    select
        conversation_id,
        conversation_start,
        conversation_end,
        extracted_at,
        job_id,
        {{ genesys_payload('payload', [
            'divisionIds', 'externalTag', 'originatingDirection', 'conversationInitiator',
            'selfServed', 'mediaStatsMinConversationMos', 'mediaStatsMinConversationRFactor',
            ['participants', 'participantId'],
        ]) }} as payload
    from source
    {{ genesys_payload_fence() }}
),

renamed as (
    select
        ----------  ids
        conversation_id,
        {{ json_first_text('payload', 'divisionIds') }} as division_id,
        {{ json_text('payload', 'externalTag') }} as external_tag,

        ---------- timestamps
        cast(conversation_start as {{ type_timestamptz() }}) as conversation_start,
        cast(conversation_end as {{ type_timestamptz() }}) as conversation_end,

        ---------- properties
        {{ json_text('payload', 'originatingDirection') }} as originating_direction,
        {{ json_text('payload', 'conversationInitiator') }} as conversation_initiator,
        {{ json_array_length('payload', 'divisionIds') }} as division_count,
        {{ json_array_length('payload', 'participants') }} as participant_count,
        {{ json_boolean('payload', 'selfServed') }} as is_self_served,
        {{ json_decimal('payload', 'mediaStatsMinConversationMos', 12, 6) }} as min_mos,
        {{ json_decimal('payload', 'mediaStatsMinConversationRFactor', 12, 6) }} as min_r_factor,

        ---------- derived
        conversation_end is null as is_ongoing,
        {{ duration_ms('conversation_start', 'conversation_end') }} as conversation_duration_ms,

        ---------- lineage
        cast(extracted_at as {{ type_timestamptz() }}) as extracted_at,
        job_id
    from payload
)

{{ select_masked('renamed') }}
