{#- Fails with the duplicated key values when a combination of columns is not unique (a composite key).
    Written here because the project uses no dbt packages. -#}
{% test unique_combination_of_columns(model, columns) %}

with

grouped as (

    select
        {{ columns | join(', ') }},
        count(*) as row_count,

    from {{ model }}
    group by {{ columns | join(', ') }}

),

final as (

    select * from grouped where row_count > 1

)

select * from final

{% endtest %}
