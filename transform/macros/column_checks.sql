{#- The failing rows of a column's accepted values and of a column's reference to a parent, one row a
    failing value: (failure, columns, value, row_count). Used by `accepted_values_columns`,
    `relationships_columns` and `not_null_columns` (transform/tests/generic/), whose failing rows the
    refresh's report reads (data_tests/check_results.py). -#}

{% macro not_accepted_values(model, column, accepted) %}
    select
        'not accepted' as failure,
        '{{ column }}' as columns,
        cast({{ adapter.quote(column) }} as varchar) as value,
        count(*) as row_count,

    from {{ model }}
    where
        {{ adapter.quote(column) }} is not null
        and {{ adapter.quote(column) }} not in (
            {%- for value in accepted %}
            '{{ value | string | replace("'", "''") }}'{{ "," if not loop.last }}
            {%- endfor %}
        )
    group by {{ adapter.quote(column) }}
{% endmacro %}

{% macro orphan_values(model, relationship) %}
    select
        'no parent' as failure,
        '{{ relationship.column }} -> {{ relationship.to }}.{{ relationship.field }}' as columns,
        cast(child.{{ adapter.quote(relationship.column) }} as varchar) as value,
        count(*) as row_count,

    from {{ model }} as child
    where
        child.{{ adapter.quote(relationship.column) }} is not null
        and not exists (
            select 1
            from {{ ref(relationship.to) }} as parent
            where parent.{{ adapter.quote(relationship.field) }} = child.{{ adapter.quote(relationship.column) }}
        )
    group by child.{{ adapter.quote(relationship.column) }}
{% endmacro %}
