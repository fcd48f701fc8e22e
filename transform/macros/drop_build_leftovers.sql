{#- dbt-duckdb builds an incremental Python model's new rows in a relation named `<model>__dbt_tmp<timestamp>`
    in the target's default schema and leaves it there after the merge: one more table in the build database,
    and so in the published warehouse, for every refresh that extends the model. Run at the end of every
    build (on-run-end), after the last model: no model reads them any more. -#}
{% macro drop_build_leftovers() %}
    {% if execute %}
        {% set leftovers = run_query(
            "select schema_name, table_name, table_type from ("
            ~ " select schema_name, table_name, 'table' as table_type from duckdb_tables()"
            ~ " where database_name = current_database() and not temporary"
            ~ " union all"
            ~ " select schema_name, view_name, 'view' from duckdb_views()"
            ~ " where database_name = current_database() and not temporary and not internal"
            ~ ") where regexp_matches(table_name, '__dbt_tmp[0-9]*$')"
        ) %}
        {% for row in leftovers.rows %}
            {% do run_query('drop ' ~ row[2] ~ ' if exists "' ~ row[0] ~ '"."' ~ row[1] ~ '"') %}
            {% do log('dropped leftover ' ~ row[2] ~ ' ' ~ row[0] ~ '.' ~ row[1], info=false) %}
        {% endfor %}
    {% endif %}
{% endmacro %}
