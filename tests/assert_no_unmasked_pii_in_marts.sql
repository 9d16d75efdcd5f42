{#- Fails when PII reaches a mart unmasked. For every model under `models/marts/`:
    * a column whose name is PII-tagged (`meta: {pii: ...}`) in any model or source it depends on,
      directly or not, must carry a `pii` tag itself (so its masking is declared, not forgotten);
    * every PII-tagged mart column must hold only values of the masked shape of its action.
    Returns one row per offending model column (or value). -#}

-- it reads the marts through the graph, so dbt build must run it after them:
-- depends_on: {{ ref('fct_voice_leg_costs') }}
-- depends_on: {{ ref('fct_billing_reconciliation') }}
-- depends_on: {{ ref('fct_conversation_costs') }}
-- depends_on: {{ ref('fct_billing_per_minute') }}
-- depends_on: {{ ref('fct_revenue_attribution') }}

{%- set checks = [] -%}
{%- if execute -%}
    {%- set pii_names = {} -%}
    {%- for node in graph.nodes.values() | list + graph.sources.values() | list -%}
        {%- for name, column in node.columns.items() -%}
            {%- set action = genesys_finance.pii_action(column) -%}
            {%- if action and action != 'keep' -%}
                {%- do pii_names.update({name: node.unique_id}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and 'marts' in node.fqn -%}
        {%- set relation = api.Relation.create(
            database=node.database, schema=node.schema, identifier=node.alias) -%}
        {%- for name, column in node.columns.items() -%}
            {%- set action = genesys_finance.pii_action(column) -%}
            {%- if action and action not in ('keep', 'redact', 'last4', 'prefix', 'org_number', 'hmac') -%}
                {%- do checks.append(
                    "select '" ~ node.name ~ "." ~ name ~ "' as model_column, 'unknown pii action' as problem") -%}
            {%- elif action and action != 'keep' -%}
                {%- do checks.append(
                    "select '" ~ node.name ~ "." ~ name ~ "' as model_column, 'value not masked: "
                    ~ action ~ "' as problem from " ~ relation ~ " where " ~ name ~ " is not null and not ("
                    ~ genesys_finance.masked_shape(name, action) ~ ")") -%}
            {%- elif name in pii_names -%}
                {%- do checks.append(
                    "select '" ~ node.name ~ "." ~ name ~ "' as model_column, 'PII column without a pii tag (upstream: "
                    ~ pii_names[name] ~ ")' as problem") -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif %}

{%- if checks %}
    {{ checks | join('\nunion all\n') }}
{%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as model_column,
        cast(null as {{ dbt.type_string() }}) as problem
    where 1 = 0
{%- endif %}
