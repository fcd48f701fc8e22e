{#- Fails with the rows where any of `columns` is null, and with the values that occur more than once in
    any of `unique_columns` (each column a key on its own; nulls are not duplicates, as in `unique`).

    One test per model instead of one `not_null` and one `unique` test per column: the same guarantees
    with one dbt node a model (each node costs more than its query on these tables). Each failing row says
    what failed (`failure`: null or duplicate) and where (`columns`; `value` for a duplicate): the
    refresh's report names the model and columns from them (data_tests/check_results.py). -#}
{% test not_null_columns(model, columns, unique_columns=[]) %}

with

nulls as (

    select
        'null' as failure,
        concat_ws(
            ', ',
            {%- for column in columns %}
            case when {{ adapter.quote(column) }} is null then '{{ column }}' end{{ "," if not loop.last }}
            {%- endfor %}
        ) as columns,
        cast(null as varchar) as value,

    from {{ model }}
    where
        {%- for column in columns %}
        {{ "or " if not loop.first }}{{ adapter.quote(column) }} is null
        {%- endfor %}

),
{% for column in unique_columns %}
duplicates_{{ loop.index }} as (

    select
        'duplicate' as failure,
        '{{ column }}' as columns,
        cast({{ adapter.quote(column) }} as varchar) as value,

    from {{ model }}
    where {{ adapter.quote(column) }} is not null
    group by {{ adapter.quote(column) }}
    having count(*) > 1

),
{% endfor %}
final as (

    select * from nulls
    {%- for column in unique_columns %}
    union all
    select * from duplicates_{{ loop.index }}
    {%- endfor %}

)

select * from final

{% endtest %}
