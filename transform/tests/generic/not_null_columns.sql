{#- Fails with the rows where any of `columns` is null, and with the keys that occur more than once:
    - `unique_columns`: each column a key on its own; nulls are not duplicates, as in `unique`;
    - `unique_expressions`: each an SQL expression over the row that must be unique, as `unique` with that
      expression as its `column_name` (a null is no duplicate: `a || '/' || b` with a null part is skipped);
    - `unique_combinations`: each a list of columns whose combination must be unique, as
      `unique_combination_of_columns` (grouped as they are: rows that agree on every column, nulls
      included, are duplicates);
    and with the values a column may not hold:
    - `accepted_values`: maps a column to the values it may hold, as `accepted_values_columns` (compared as
      text; nulls pass), one failing row a value outside its list;
    - `relationships`: lists `{column, to, field}`, as `relationships_columns` (`to` read with `ref`; nulls
      pass), one failing row a value its parent does not hold. A model's references go here only where each
      `to` is upstream of every model downstream of it: a test waits for all the nodes it reads, and dbt
      lets it hold back (skip on failure) only the models downstream of all of them.

    One test per model instead of one `not_null` and one `unique` test per column, one test per key and
    the model's accepted values and references tests: the same guarantees with one dbt node a model (each
    node costs more than its query on these tables). Each failing row says what failed (`failure`: null,
    duplicate, not accepted or no parent), where (`columns`, the key's columns or expression, or
    `<column> -> <to>.<field>`), which value (`value`; none for a null) and in how many rows (`row_count`):
    the refresh's report names the model, the columns and the values from them
    (data_tests/check_results.py). -#}
{% test not_null_columns(
    model,
    columns,
    unique_columns=[],
    unique_expressions=[],
    unique_combinations=[],
    accepted_values={},
    relationships=[]
) %}

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
        1 as row_count,

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
        count(*) as row_count,

    from {{ model }}
    where {{ adapter.quote(column) }} is not null
    group by {{ adapter.quote(column) }}
    having count(*) > 1

),
{% endfor %}
{% for expression in unique_expressions %}
duplicate_expressions_{{ loop.index }} as (

    select
        'duplicate' as failure,
        '{{ expression | replace("'", "''") }}' as columns,
        cast({{ expression }} as varchar) as value,
        count(*) as row_count,

    from {{ model }}
    where {{ expression }} is not null
    group by {{ expression }}
    having count(*) > 1

),
{% endfor %}
{% for combination in unique_combinations %}
duplicate_combinations_{{ loop.index }} as (

    select
        'duplicate' as failure,
        '{{ combination | join(", ") }}' as columns,
        concat_ws(
            ' / ',
            {%- for column in combination %}
            coalesce(cast({{ adapter.quote(column) }} as varchar), 'null'){{ "," if not loop.last }}
            {%- endfor %}
        ) as value,
        count(*) as row_count,

    from {{ model }}
    group by
        {%- for column in combination %}
        {{ adapter.quote(column) }}{{ "," if not loop.last }}
        {%- endfor %}
    having count(*) > 1

),
{% endfor %}
{% for column, accepted in accepted_values.items() %}
not_accepted_{{ loop.index }} as (
{{ not_accepted_values(model, column, accepted) }}
),
{% endfor %}
{% for relationship in relationships %}
orphans_{{ loop.index }} as (
{{ orphan_values(model, relationship) }}
),
{% endfor %}
final as (

    select * from nulls
    {%- for column in unique_columns %}
    union all
    select * from duplicates_{{ loop.index }}
    {%- endfor %}
    {%- for expression in unique_expressions %}
    union all
    select * from duplicate_expressions_{{ loop.index }}
    {%- endfor %}
    {%- for combination in unique_combinations %}
    union all
    select * from duplicate_combinations_{{ loop.index }}
    {%- endfor %}
    {%- for column in accepted_values %}
    union all
    select * from not_accepted_{{ loop.index }}
    {%- endfor %}
    {%- for relationship in relationships %}
    union all
    select * from orphans_{{ loop.index }}
    {%- endfor %}

)

select * from final

{% endtest %}
