{#- Fails with each value outside its column's accepted list: `values` maps a column to the values it may
    hold (compared as text, as dbt's `accepted_values` does with `quote: true`; nulls pass, as there).

    One test per model instead of one `accepted_values` test per column: the same guarantees with one dbt
    node a model. Each failing row says what failed (`failure`: not accepted), where (`columns`) and which
    value (`value`, with `row_count`, how many rows hold it): the refresh's report names the model, the column
    and the values from them (data_tests/check_results.py). -#}
{% test accepted_values_columns(model, values) %}

with
{% for column, accepted in values.items() %}
not_accepted_{{ loop.index }} as (

{{ not_accepted_values(model, column, accepted) }}

),
{% endfor %}
final as (

    {% for column in values %}
    {{ "union all" if not loop.first }}
    select * from not_accepted_{{ loop.index }}
    {%- endfor %}

)

select * from final

{% endtest %}
