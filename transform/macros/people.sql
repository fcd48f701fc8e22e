{#- Whether an account is automation rather than a person (docs/metrics.md, "Who deploys and who reviews"):
    the source says so (GitHub's `Bot` account type; a Jenkins build started by no user), its login ends in
    `[bot]` (GitHub Apps), it is a GitLab project or group access token's bot user, it names a Jenkins
    trigger (`jenkins:...`), or org.yml lists it under `bots:` (lower-cased in `bot_logins_expr`).
    NULL when there is no account to judge. -#}
{% macro is_automation_account(login_expr, source_says_bot_expr, bot_logins_expr) -%}
    (case
        when {{ login_expr }} is null and {{ source_says_bot_expr }} is null then null
        else coalesce({{ source_says_bot_expr }}, false)
            or coalesce(
                lower({{ login_expr }}) like '%[bot]'
                or lower({{ login_expr }}) like 'jenkins:%'
                or regexp_matches(lower({{ login_expr }}), '^(project|group)_\d+_bot')
                or list_contains({{ bot_logins_expr }}, lower({{ login_expr }})),
                false
            )
    end)
{%- endmacro %}
