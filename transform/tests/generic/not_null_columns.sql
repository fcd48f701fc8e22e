{#- Fails with the rows where any of `columns` is null, each naming its null columns (`null_columns`).

    One test per model instead of one `not_null` test per column: the same guarantee at one scan and one
    dbt node a model (each node costs more than the check itself on these tables). A failure's rows name
    the columns, and the refresh's report names them with the model (data_tests/check_results.py). -#}
{% test not_null_columns(model, columns) %}

with

nulls as (

    select
        concat_ws(
            ', ',
            {%- for column in columns %}
            case when {{ adapter.quote(column) }} is null then '{{ column }}' end{{ "," if not loop.last }}
            {%- endfor %}
        ) as null_columns,

    from {{ model }}
    where
        {%- for column in columns %}
        {{ "or " if not loop.first }}{{ adapter.quote(column) }} is null
        {%- endfor %}

),

final as (

    select * from nulls

)

select * from final

{% endtest %}
