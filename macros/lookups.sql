{#- Lookup seeds: the org's own (`seeds/<name>.csv`) or the demo's invented ones
    (`seeds/demo/demo_<name>.csv`, enabled only with var `genesys_finance_use_demo_lookups`), so a
    real build never rates calls with the simulator's rate cards. Declared in `seeds/_seeds.yml`. -#}

{#- True when the build runs on the demo's lookups. The var comes from `--vars` (a boolean) or from
    its default in dbt_project.yml, env var `GENESYS_FINANCE_DEMO_LOOKUPS` (text): both accepted. -#}
{% macro use_demo_lookups() -%}
    {{ return(var('genesys_finance_use_demo_lookups', false) | string | lower in ['true', '1', 'yes']) }}
{%- endmacro %}


{#- The relation of lookup `name` (`rate_cards`, `time_bands`, `carrier_edges`, `did_pool_carriers`,
    `client_contracts`, `billing_periods`): what every model reads instead of `ref()`. -#}
{% macro lookup(name) -%}
    {%- if genesys_finance.use_demo_lookups() -%}
        {{ return(ref('demo_' ~ name)) }}
    {%- endif -%}
    {{ return(ref(name)) }}
{%- endmacro %}


{#- What to do about an org lookup that cannot be used, as one message. -#}
{% macro lookup_missing_message(node, problem) -%}
    {%- set header = node.columns.keys() | join(',') -%}
    {{ return(
        "Lookup seed `" ~ node.name ~ "` " ~ problem ~ ". Provide your organisation's own file "
        ~ node.original_file_path ~ " with the header line\n    " ~ header ~ "\n"
        ~ "and one row per entry (columns: seeds/_seeds.yml, README 'Lookups'), then build again. "
        ~ "To run on the demo's invented lookups instead (never for real billing): "
        ~ "--vars '{genesys_finance_use_demo_lookups: true}' or GENESYS_FINANCE_DEMO_LOOKUPS=true."
    ) }}
{%- endmacro %}


{#- Raises when the org lookup `node` is required and has no rows, or lacks documented columns, in
    `relation`. Nothing on the demo's lookups. -#}
{% macro assert_lookup_usable(node, relation, just_loaded=false) -%}
    {%- if not execute or genesys_finance.use_demo_lookups() -%}
        {{ return('') }}
    {%- endif -%}
    {#- a seed's own post-hook runs before dbt's relation cache knows the new table -#}
    {%- set existing = relation if just_loaded else adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {%- if existing is none -%}
        {{ exceptions.raise_compiler_error(genesys_finance.lookup_missing_message(
            node, "is not loaded (run `dbt seed` or `genesys-finance build`)")) }}
    {%- endif -%}
    {%- set loaded = adapter.get_columns_in_relation(existing) | map(attribute='name')
        | map('lower') | list -%}
    {%- set missing = [] -%}
    {%- for name in node.columns.keys() if name | lower not in loaded -%}
        {%- do missing.append(name) -%}
    {%- endfor -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(genesys_finance.lookup_missing_message(
            node, "has no column " ~ (missing | join(', ')))) }}
    {%- endif -%}
    {%- if (node.config.meta or {}).get('lookup_required') -%}
        {%- set rows = run_query('select count(*) from ' ~ existing).columns[0].values()[0] -%}
        {%- if rows == 0 -%}
            {{ exceptions.raise_compiler_error(genesys_finance.lookup_missing_message(
                node, "is empty, and a real build needs it")) }}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#- Post-hook of every seed: an org lookup just loaded must be usable (see `assert_lookup_usable`).
    A failing seed stops everything built on it; the message says which file to fill in. -#}
{% macro check_lookup_seed() -%}
    {{ return(genesys_finance.assert_lookup_usable(model, this, just_loaded=true)) }}
{%- endmacro %}


{#- on-run-start: the org lookups this invocation reads but does not load itself (`dbt run` after an
    earlier `dbt seed`, a `--select` of finance models) must already be usable in the warehouse. The
    ones it loads are checked right after loading by their post-hook. -#}
{% macro check_org_lookups() -%}
    {%- if not execute or genesys_finance.use_demo_lookups() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set needed = [] -%}
    {%- for node in graph.nodes.values() if node.unique_id in selected_resources -%}
        {%- for parent in node.depends_on.nodes if parent.startswith('seed.')
            and parent not in selected_resources and parent not in needed -%}
            {%- do needed.append(parent) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for unique_id in needed -%}
        {%- set seed = graph.nodes[unique_id] -%}
        {%- do genesys_finance.assert_lookup_usable(
            seed, api.Relation.create(database=seed.database, schema=seed.schema, identifier=seed.alias)) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
