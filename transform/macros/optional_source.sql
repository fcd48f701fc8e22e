{#- A raw table of an optional source, for a staging model's `source` CTE.

    Sources are optional (not configured, a feature the server does not offer, or nothing loaded yet), and
    dlt creates a table only for rows it has seen and a column only for values that were not null. So:
    - the raw table exists: its rows, every column it has, and each declared column it lacks as a null of
      the declared type;
    - it does not: no rows, with the declared columns and types.
    Either way the staging model compiles to the same columns. Whether the raw table exists is asked of
    the database itself, not of dbt's relation cache: the cache learns a source's schema on first use, and
    a model compiled on the other thread while it is listing that schema found no table (a staging view
    built empty over a loaded table). The columns are declared once, in the
    source's YAML (`_<source>__sources.yml`: `columns:` with `data_type`, a DuckDB type); `columns` here
    only serves tables whose shape is shared by every source (the quarantine tables). -#}
{% macro optional_source(source_name, table_name, columns=none) -%}
{%- set raw = source(source_name, table_name) -%}
{%- if not execute -%}
select * from {{ raw }}
{%- else -%}
{%- set declared = columns if columns is not none else declared_source_columns(source_name, table_name) -%}
{%- set relation = raw_table_if_loaded(raw) -%}
{%- if relation is none -%}
select
    {% for name, data_type in declared -%}
    null::{{ data_type }} as {{ adapter.quote(name) }}{{ ',' if not loop.last }}
    {% endfor -%}
where false
{%- else -%}
{%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
select
    *{% for name, data_type in declared if name | lower not in present %},
    null::{{ data_type }} as {{ adapter.quote(name) }}
    {%- endfor %}
from {{ raw }}
{%- endif -%}
{%- endif -%}
{%- endmacro %}


{#- [(column, data_type), ...] of a source table, in the order its YAML declares them; a table declared
    without columns, or a column without a data_type, is a compilation error naming it. -#}
{% macro declared_source_columns(source_name, table_name) -%}
{%- set found = graph.sources.values() | selectattr('source_name', 'equalto', source_name)
    | selectattr('name', 'equalto', table_name) | list -%}
{%- if found | length != 1 -%}
{{ exceptions.raise_compiler_error("optional_source: no source table " ~ source_name ~ "." ~ table_name) }}
{%- endif -%}
{%- set columns = [] -%}
{%- for column in found[0].columns.values() -%}
{%- if not column.data_type -%}
{{ exceptions.raise_compiler_error(
    "optional_source: column " ~ column.name ~ " of " ~ source_name ~ "." ~ table_name
    ~ " has no data_type in its sources YAML") }}
{%- endif -%}
{%- do columns.append((column.name, column.data_type)) -%}
{%- endfor -%}
{%- if not columns -%}
{{ exceptions.raise_compiler_error(
    "optional_source: " ~ source_name ~ "." ~ table_name ~ " declares no columns in its sources YAML") }}
{%- endif -%}
{{ return(columns) }}
{%- endmacro %}


{#- `raw` (a source relation) when the database has that table now, else none: asked of the catalog, never of
    dbt's relation cache (see optional_source). -#}
{% macro raw_table_if_loaded(raw) -%}
{%- set found = run_query(
    "select count(*) from information_schema.tables where lower(table_catalog) = lower('" ~ raw.database
    ~ "') and lower(table_schema) = lower('" ~ raw.schema ~ "') and lower(table_name) = lower('"
    ~ raw.identifier ~ "')"
) -%}
{{ return(raw if found.columns[0].values()[0] > 0 else none) }}
{%- endmacro %}
