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

{{ orphan_values(model, relationship) }}

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
