{#- The rows of the three cross-team rollups (dora_rollup_daily, _weekly, _monthly) as one relation body:
    `columns` of each, optionally filtered by `where`. dora_levels and dora_quickcheck_scores read every
    grain alike. -#}
{% macro rollup_periods(columns, where=none) -%}
    {%- for grain in ['daily', 'weekly', 'monthly'] %}
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
    from {{ ref('dora_rollup_' ~ grain) }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
