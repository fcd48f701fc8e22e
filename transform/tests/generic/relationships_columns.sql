{#- Fails with each value of a column that its parent does not hold: `relationships` lists
    `{column, to, field}`, `to` a model or seed name (read with `ref`), `field` its column; nulls pass, as in
    dbt's `relationships`.

    One test per model instead of one `relationships` test per column: the same guarantees with one dbt
    node a model. Each failing row says what failed (`failure`: no parent), where (`columns`:
    `<column> -> <to>.<field>`) and which value (`value`, with `row_count`, how many rows hold it): the refresh's
    report names them (data_tests/check_results.py). -#}
{% test relationships_columns(model, relationships) %}

with
{% for relationship in relationships %}
orphans_{{ loop.index }} as (

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

),
{% endfor %}
final as (

    {% for relationship in relationships %}
    {{ "union all" if not loop.first }}
    select * from orphans_{{ loop.index }}
    {%- endfor %}

)

select * from final

{% endtest %}
