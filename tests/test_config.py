"""The org configuration file: valid files load; every mistake names its key and line."""

from __future__ import annotations

import textwrap

import pytest

from ingestion.config import ConfigError, load_config, parse_config

VALID = textwrap.dedent(
    """\
    org: acme
    sources:
      github:
        base_url: https://api.github.com/
        organization: acme
        token_env: TEST_GH_TOKEN
        start_date: 2026-01-01
      pagerduty:
        base_url: https://api.pagerduty.com
        token: pd-literal
    teams:
      - name: payments
      - name: search
    services:
      - name: checkout-api
        team: payments
        repository: acme/checkout-api
        pagerduty_services: [PABC123, PDEF456]
      - name: search-api
        team: search
        repository: acme/search-api
    environments:
      - name: staging
        match: "^stag"
      - name: production
        match: "^prod"
        production: true
    failure:
      incident_window_hours: 12
    """
)


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv("TEST_GH_TOKEN", "s3cret-gh")


def test_valid_file_loads_with_resolved_tokens():
    config = parse_config(VALID)
    assert config.org == "acme"
    assert config.sources["github"].base_url == "https://api.github.com"
    assert config.sources["github"].token == "s3cret-gh"
    assert config.sources["github"].start_date == "2026-01-01"
    assert config.sources["pagerduty"].token == "pd-literal"
    assert [s["service"] for s in config.services] == ["checkout-api", "search-api"]
    assert config.services[0]["pagerduty_services"] == ["PABC123", "PDEF456"]
    assert [(e["environment"], e["environment_rank"], e["is_production"]) for e in config.environments] == [
        ("staging", 0, False),
        ("production", 1, True),
    ]
    assert config.settings == {
        "incident_window_hours": 12.0,
        # without a failure_signals section: every signal on, their window the incident window
        "failure_window_hours": 12.0,
        "incident_signal_enabled": True,
        "rollback_signal_enabled": True,
        "revert_signal_enabled": True,
        "hotfix_signal_enabled": True,
        "hotfix_title_pattern": r"\bhot[ _-]?fix",
        "hotfix_label_pattern": r"^hot[ _-]?fix",
        "hotfix_branch_pattern": r"^hot[ _-]?fix[/_-]",
        "alert_signal_enabled": True,
        "bot_logins": [],
    }


def test_bots_are_kept_lower_cased_once_and_a_bad_list_is_named():
    config = parse_config(VALID + "bots: [Acme-Lint, release-robot, acme-lint]\n")
    assert config.settings["bot_logins"] == ["acme-lint", "release-robot"]
    line = VALID.count("\n") + 1  # the appended line
    with pytest.raises(ConfigError, match=rf"line {line}: bots\[1\]: expected a non-empty string"):
        parse_config(VALID + "bots: [acme-lint, 7]\n")


def test_tokens_never_show_in_repr():
    config = parse_config(VALID)
    assert "s3cret-gh" not in repr(config)
    assert "pd-literal" not in repr(config)


def test_default_environments_when_omitted():
    text = VALID[: VALID.index("environments:")]
    config = parse_config(text)
    assert [e["environment"] for e in config.environments] == ["staging", "production"]
    assert config.settings["incident_window_hours"] == 24.0


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("team: search\n", "team: serch\n", "line 20: services[1].team: unknown team 'serch'"),
        (
            "repository: acme/search-api",
            "repository: search-api",
            "line 21: services[1].repository: expected owner/name",
        ),
        (
            'match: "^stag"',
            'match: "^(stag"',
            "line 24: environments[0].match: not a valid regular expression",
        ),
        ("incident_window_hours: 12", "incident_window_hours: -1", "line 29: failure.incident_window_hours"),
        (
            "    organization: acme\n",
            "    organisation: acme\n",
            "line 5: sources.github.organisation: unknown key",
        ),
        ("- name: search\n", "- name: payments\n", "line 13: teams[1].name: duplicate team 'payments'"),
        (
            "start_date: 2026-01-01",
            "start_date: yesterday",
            "line 7: sources.github.start_date: not an ISO date",
        ),
        (
            "base_url: https://api.pagerduty.com",
            "base_url: api.pagerduty.com",
            "line 9: sources.pagerduty.base_url",
        ),
        ("    production: true\n", "", "environments: mark at least one environment with production: true"),
    ],
)
def test_errors_name_key_and_line(old, new, expected):
    assert old in VALID
    with pytest.raises(ConfigError) as info:
        parse_config(VALID.replace(old, new, 1))
    assert expected in str(info.value)


def test_missing_token_env_is_named_without_leaking(monkeypatch):
    monkeypatch.delenv("TEST_GH_TOKEN")
    with pytest.raises(
        ConfigError, match="line 6: sources.github.token_env: environment variable TEST_GH_TOKEN"
    ):
        parse_config(VALID)


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("teams: [unclosed")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yml")


# --- local git repositories and deploy rules -----------------------------------------------------------

GIT_CONFIG = textwrap.dedent(
    """\
    sources:
      git:
        repositories:
          - path: repos/shop
          - path: repos/legacy.git
            name: legacy-monolith
    teams:
      - name: core
    services:
      - name: shop
        team: core
        repository: shop
        deployments:
          - environment: production
            tag: "^v?\\\\d+\\\\.\\\\d+(\\\\.\\\\d+)?$"
          - environment: staging
            tag: "-rc\\\\d+$"
          - environment: production
            github_environment: "^live"
      - name: legacy
        team: core
        repository: legacy-monolith
    environments:
      - name: staging
        match: "^stag"
      - name: production
        match: "^prod"
        production: true
    """
)


@pytest.fixture
def git_config_dir(tmp_path):
    (tmp_path / "repos" / "shop").mkdir(parents=True)
    (tmp_path / "repos" / "legacy.git").mkdir()
    path = tmp_path / "org.yml"
    path.write_text(GIT_CONFIG)
    return tmp_path


def test_git_source_resolves_paths_against_the_file_and_names_repositories(git_config_dir):
    config = load_config(git_config_dir / "org.yml")
    git = config.sources["git"]
    assert git.options["repositories"] == [
        {"path": str(git_config_dir / "repos" / "shop"), "name": "shop"},
        {"path": str(git_config_dir / "repos" / "legacy.git"), "name": "legacy-monolith"},
    ]
    assert git.token == ""
    assert [s["repository"] for s in config.services] == ["shop", "legacy-monolith"]


def test_deploy_rules_are_kept_in_order_with_kind_and_pattern(git_config_dir):
    config = load_config(git_config_dir / "org.yml")
    assert config.services[0]["deploy_rules"] == [
        {
            "environment": "production",
            "kind": "tag",
            "pattern": r"^v?\d+\.\d+(\.\d+)?$",
        },
        {"environment": "staging", "kind": "tag", "pattern": r"-rc\d+$"},
        {
            "environment": "production",
            "kind": "github_environment",
            "pattern": "^live",
        },
    ]
    assert config.services[1]["deploy_rules"] == []


def test_deploy_rule_rows_default_to_the_environments_patterns(git_config_dir):
    from ingestion.org_config import deploy_rule_rows

    config = load_config(git_config_dir / "org.yml")
    rows = deploy_rule_rows(config.services, config.environments)
    assert [
        (r["service"], r["rule_index"], r["kind"], r["environment"], r["pattern"], r["is_default"])
        for r in rows
    ] == [
        ("shop", 0, "tag", "production", r"^v?\d+\.\d+(\.\d+)?$", False),
        ("shop", 1, "tag", "staging", r"-rc\d+$", False),
        ("shop", 2, "github_environment", "production", "^live", False),
        ("legacy", 0, "github_environment", "staging", "^stag", True),
        ("legacy", 1, "github_environment", "production", "^prod", True),
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "environment: staging\n",
            "environment: qa\n",
            "line 16: services[0].deployments[1].environment: unknown environment 'qa' "
            "(environments: staging, production)",
        ),
        (
            '    tag: "-rc\\\\d+$"\n',
            '    tag: "-rc(\\\\d+$"\n',
            "line 17: services[0].deployments[1].tag: not a valid regular expression",
        ),
        (
            '    github_environment: "^live"\n',
            '    github_environment: "^live"\n        tag: "^v"\n',
            "line 18: services[0].deployments[2]: give exactly one of github_environment, "
            "gitlab_environment, tag, workflow, jenkins_job, branch_push",
        ),
        (
            '    github_environment: "^live"\n',
            '    github_environment: "^live"\n        branch: "main"\n',
            "line 20: services[0].deployments[2].branch: branch applies to workflow and jenkins_job rules "
            "only, not to github_environment",
        ),
        (
            "repository: legacy-monolith",
            "repository: legacy",
            "line 22: services[1].repository: expected owner/name or group/name "
            "or one of the git repositories (legacy-monolith, shop)",
        ),
        (
            "      - path: repos/shop\n",
            "      - path: repos/nowhere\n",
            "line 4: sources.git.repositories[0].path: no such folder",
        ),
        (
            "        name: legacy-monolith\n",
            "        name: shop\n",
            "line 6: sources.git.repositories[1].name: duplicate repository name 'shop'",
        ),
        ("  git:\n", "  git:\n    base_url: x\n", "line 3: sources.git.base_url: unknown key"),
    ],
)
def test_git_and_deploy_rule_errors_name_key_and_line(git_config_dir, old, new, expected):
    assert old in GIT_CONFIG
    path = git_config_dir / "org.yml"
    path.write_text(GIT_CONFIG.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert expected in str(info.value)


# --- GitLab, Jenkins and every deploy rule kind -----------------------------------------------------------

MIXED_CONFIG = textwrap.dedent(
    """\
    sources:
      gitlab:
        base_url: https://gitlab.example.com/
        token_env: TEST_GL_TOKEN
        group: acme
        projects: [acme/platform/ledger]
        start_date: 2026-02-01
      jenkins:
        base_url: https://ci.example.com
        user: robot
        token: jk-literal
        jobs: ["payments/*"]
    teams:
      - name: core
    services:
      - name: ledger
        team: core
        repository: acme/platform/ledger
        deployments:
          - environment: production
            gitlab_environment: "^prod"
          - environment: staging
            workflow: "^deploy"
            branch: "^main$"
          - environment: production
            jenkins_job: "^payments/ledger-deploy$"
          - environment: staging
            branch_push: "^main$"
    environments:
      - name: staging
      - name: production
        production: true
    """
)


def test_gitlab_and_jenkins_sources_and_every_rule_kind(monkeypatch):
    monkeypatch.setenv("TEST_GL_TOKEN", "s3cret-gl")
    config = parse_config(MIXED_CONFIG)
    gitlab = config.sources["gitlab"]
    assert (gitlab.base_url, gitlab.token, gitlab.start_date) == (
        "https://gitlab.example.com",
        "s3cret-gl",
        "2026-02-01",
    )
    assert gitlab.options == {
        "group": "acme",
        "projects": ["acme/platform/ledger"],
        "max_concurrency": 4,
        "pipeline_jobs": False,
    }
    jobs = parse_config(
        MIXED_CONFIG.replace("    group: acme\n", "    group: acme\n    pipeline_jobs: true\n", 1)
    )
    assert jobs.sources["gitlab"].options["pipeline_jobs"] is True
    jenkins = config.sources["jenkins"]
    assert (jenkins.base_url, jenkins.token) == ("https://ci.example.com", "jk-literal")
    assert jenkins.options == {"user": "robot", "jobs": ["payments/*"]}
    assert "s3cret-gl" not in repr(config) and "jk-literal" not in repr(config)
    assert config.services[0]["deploy_rules"] == [
        {
            "environment": "production",
            "kind": "gitlab_environment",
            "pattern": "^prod",
        },
        {
            "environment": "staging",
            "kind": "workflow",
            "pattern": "^deploy",
            "branch_pattern": "^main$",
            "events": ["push", "workflow_dispatch", "repository_dispatch"],
            "include_forks": False,
        },
        {
            "environment": "production",
            "kind": "jenkins_job",
            "pattern": "^payments/ledger-deploy$",
        },
        {"environment": "staging", "kind": "branch_push", "pattern": "^main$"},
    ]


def test_rule_rows_carry_the_branch_pattern(monkeypatch):
    from ingestion.org_config import deploy_rule_rows

    monkeypatch.setenv("TEST_GL_TOKEN", "x")
    config = parse_config(MIXED_CONFIG)
    rows = deploy_rule_rows(config.services, config.environments)
    assert [(r["rule_index"], r["kind"], r["branch_pattern"]) for r in rows] == [
        (0, "gitlab_environment", None),
        (1, "workflow", "^main$"),
        (2, "jenkins_job", None),
        (3, "branch_push", None),
    ]
    # The file's own spelling (`branch:`) is accepted as well.
    raw = [{"name": "ledger", "deployments": [{"environment": "staging", "workflow": "^d", "branch": "^m"}]}]
    assert deploy_rule_rows(raw, config.environments)[0]["branch_pattern"] == "^m"


def test_anonymous_jenkins_needs_no_token():
    text = MIXED_CONFIG.replace("    user: robot\n    token: jk-literal\n", "")
    text = text.replace("    token_env: TEST_GL_TOKEN\n", "    token: gl-literal\n")
    config = parse_config(text)
    assert config.sources["jenkins"].token == ""
    assert config.sources["jenkins"].options["user"] is None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            '    branch: "^main$"\n',
            '    branch: "^(main$"\n',
            "line 24: services[0].deployments[1].branch: not a valid regular expression",
        ),
        (
            '    branch_push: "^main$"\n',
            '    branch_push: "^main$"\n        branch: "x"\n',
            "line 29: services[0].deployments[3].branch: "
            "branch applies to workflow and jenkins_job rules only",
        ),
        (
            '    jenkins_job: "^payments/ledger-deploy$"\n',
            '    jenkins_job: "^payments/(ledger"\n',
            "line 26: services[0].deployments[2].jenkins_job: not a valid regular expression",
        ),
        (
            '    gitlab_environment: "^prod"\n',
            '    gitlab_env: "^prod"\n',
            "line 21: services[0].deployments[0].gitlab_env: unknown key",
        ),
        (
            "    group: acme\n",
            "    group: acme\n    pipeline_jobs: yes please\n",
            "line 6: sources.gitlab.pipeline_jobs: must be true or false, not 'yes please'",
        ),
        ("    group: acme\n", "    organization: acme\n", "line 5: sources.gitlab.organization: unknown key"),
        (
            '    jobs: ["payments/*"]\n',
            "    jobs: payments\n",
            "line 12: sources.jenkins.jobs: expected a list",
        ),
        ("    user: robot\n", "    user: robot\n    token_env: X\n", "line 8: sources.jenkins: give either"),
        ("  jenkins:\n", "  jenkins:\n    folder: x\n", "line 9: sources.jenkins.folder: unknown key"),
        # workflow rules' events and forks; patterns DuckDB (which runs them) refuses
        (
            '    workflow: "^deploy"\n',
            '    workflow: "^deploy(?!-canary)"\n',
            "line 23: services[0].deployments[1].workflow: not a valid regular expression (patterns run in "
            "DuckDB, RE2 syntax): invalid perl operator: (?!",
        ),
        (
            '    branch: "^main$"\n',
            '    branch: "^(main)\\\\1$"\n',
            "line 24: services[0].deployments[1].branch: not a valid regular expression (patterns run in "
            "DuckDB, RE2 syntax): invalid escape sequence: \\1",
        ),
        (
            '    branch_push: "^main$"\n',
            '    branch_push: "^main\\\\Z"\n',
            "line 28: services[0].deployments[3].branch_push: not a valid regular expression (patterns run "
            "in DuckDB, RE2 syntax): invalid escape sequence: \\Z",
        ),
        (
            '    jenkins_job: "^payments/ledger-deploy$"\n',
            '    jenkins_job: "^payments/ledger-deploy++"\n',
            "line 26: services[0].deployments[2].jenkins_job: not a valid regular expression (patterns run "
            "in DuckDB, RE2 syntax): bad repetition operator: ++",
        ),
        (
            '    branch: "^main$"\n',
            '    branch: "^main$"\n        events: [push, workflow-dispatch]\n',
            "line 25: services[0].deployments[1].events[1]: unknown GitHub Actions event 'workflow-dispatch'",
        ),
        (
            '    branch: "^main$"\n',
            '    branch: "^main$"\n        events: []\n',
            "line 25: services[0].deployments[1].events: name at least one event",
        ),
        (
            '    branch: "^main$"\n',
            '    branch: "^main$"\n        forks: yes please\n',
            "line 25: services[0].deployments[1].forks: expected true or false",
        ),
        (
            '    jenkins_job: "^payments/ledger-deploy$"\n',
            '    jenkins_job: "^payments/ledger-deploy$"\n        events: [push]\n',
            "line 27: services[0].deployments[2].events: events applies to workflow rules only, "
            "not to jenkins_job",
        ),
        (
            '    gitlab_environment: "^prod"\n',
            '    gitlab_environment: "^prod"\n        forks: false\n',
            "line 22: services[0].deployments[0].forks: forks applies to workflow rules only, "
            "not to gitlab_environment",
        ),
    ],
)
def test_gitlab_jenkins_and_rule_errors_name_key_and_line(monkeypatch, old, new, expected):
    monkeypatch.setenv("TEST_GL_TOKEN", "x")
    assert old in MIXED_CONFIG
    with pytest.raises(ConfigError) as info:
        parse_config(MIXED_CONFIG.replace(old, new, 1))
    assert expected in str(info.value)


def test_github_reads_the_services_repositories_or_with_gitlab_its_whole_organization(
    monkeypatch, git_config_dir
):
    from orchestration.assets import github_repositories

    monkeypatch.setenv("TEST_GL_TOKEN", "x")
    github = "  github:\n    base_url: https://api.github.com\n    organization: acme\n    token: t\n"
    config = parse_config(MIXED_CONFIG.replace("sources:\n", "sources:\n" + github))
    # acme/platform/ledger may be GitLab's or GitHub's: GitHub lists its organization instead of guessing.
    assert github_repositories(config) is None
    text = (git_config_dir / "org.yml").read_text().replace("sources:\n", "sources:\n" + github)
    text = text.replace(
        "environments:\n", "  - name: web\n    team: core\n    repository: acme/web\nenvironments:\n"
    )
    (git_config_dir / "org.yml").write_text(text)
    # Local git repositories (shop, legacy-monolith) are not GitHub's.
    assert github_repositories(load_config(git_config_dir / "org.yml")) == ["acme/web"]


# --- workflow rules: events and forks; every pattern checked by the engine that runs it ---------------------


def test_workflow_rules_take_events_and_forks(monkeypatch):
    monkeypatch.setenv("TEST_GL_TOKEN", "x")
    text = MIXED_CONFIG.replace(
        '    branch: "^main$"\n',
        '    branch: "^main$"\n        events: [Push, workflow_run, push]\n        forks: true\n',
        1,
    )
    rule = parse_config(text).services[0]["deploy_rules"][1]
    # lower case, each once, in the order written
    assert (rule["events"], rule["include_forks"]) == (["push", "workflow_run"], True)
    one = MIXED_CONFIG.replace('    branch: "^main$"\n', '    branch: "^main$"\n        events: release\n', 1)
    assert parse_config(one).services[0]["deploy_rules"][1]["events"] == ["release"]


def test_workflow_rule_rows_carry_events_and_forks(monkeypatch):
    from ingestion.org_config import deploy_rule_rows

    monkeypatch.setenv("TEST_GL_TOKEN", "x")
    config = parse_config(MIXED_CONFIG)
    rows = deploy_rule_rows(config.services, config.environments)
    assert [(r["kind"], r["events"], r["include_forks"]) for r in rows] == [
        ("gitlab_environment", None, None),
        ("workflow", ["push", "workflow_dispatch", "repository_dispatch"], False),
        ("jenkins_job", None, None),
        ("branch_push", None, None),
    ]
    # The file's own spelling gets the same defaults, and keeps what it says.
    raw = [{"name": "ledger", "deployments": [{"environment": "staging", "workflow": "^d"}]}]
    row = deploy_rule_rows(raw, config.environments)[0]
    default = ["push", "workflow_dispatch", "repository_dispatch"]
    assert (row["events"], row["include_forks"]) == (default, False)
    raw[0]["deployments"][0].update(events=["Workflow_Run"], forks=True)
    row = deploy_rule_rows(raw, config.environments)[0]
    assert (row["events"], row["include_forks"]) == (["workflow_run"], True)


def test_an_environment_pattern_python_accepts_but_duckdb_rejects_is_refused_at_load():
    """A lookahead compiles in Python's re; DuckDB (RE2), which applies it, refuses it: so does the loader,
    naming the file, the line and the key, with DuckDB's own message."""
    import re

    lookahead = "^prod(?!-canary)"
    re.compile(lookahead)  # the engine the loader used to ask
    text = VALID.replace('match: "^prod"', f'match: "{lookahead}"', 1)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "conf/org.yml")
    assert str(info.value) == (
        "org.yml line 26: environments[1].match: not a valid regular expression (patterns run in DuckDB, "
        "RE2 syntax): invalid perl operator: (?!"
    )


def test_patterns_only_duckdb_accepts_load_and_defaults_escape_for_duckdb():
    """The reverse: RE2's Unicode classes, which Python's re refuses, are valid; an environment without
    `match` gets its escaped name, which DuckDB must compile too."""
    text = VALID.replace('match: "^stag"', 'match: "^\\\\p{L}+-stag"', 1)
    assert parse_config(text).environments[0]["match_pattern"] == "^\\p{L}+-stag"
    text = VALID.replace('  - name: staging\n    match: "^stag"\n', "  - name: 'pre prod #1 ~ & eu'\n", 1)
    env = parse_config(text).environments[0]
    assert env["environment"] == "pre prod #1 ~ & eu"
    from ingestion.patterns import regex_search

    assert regex_search(env["match_pattern"], ["Pre Prod #1 ~ & EU", "pre prod #1 ~ & eu-2"]) == [True, False]


def test_failure_signals_switch_each_signal_set_hotfix_patterns_and_their_window():
    text = VALID + textwrap.dedent(
        """
        failure_signals:
          window_hours: 6
          revert: false
          alert: {enabled: false}
          hotfix:
            title: "^(hotfix|urgent)"
            branch: "^emergency/"
        """
    )
    settings = parse_config(text).settings
    assert settings["incident_window_hours"] == 12.0
    assert settings["failure_window_hours"] == 6.0
    assert settings["revert_signal_enabled"] is False
    assert settings["alert_signal_enabled"] is False
    assert settings["incident_signal_enabled"] is True
    assert settings["rollback_signal_enabled"] is True
    assert settings["hotfix_signal_enabled"] is True
    assert settings["hotfix_title_pattern"] == "^(hotfix|urgent)"
    assert settings["hotfix_branch_pattern"] == "^emergency/"
    assert settings["hotfix_label_pattern"] == r"^hot[ _-]?fix"  # the default, not given


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("  revert: maybe\n", "line 32: failure_signals.revert: expected true or false, not 'maybe'"),
        ("  rollbacks: false\n", "line 32: failure_signals.rollbacks: unknown key"),
        ("  window_hours: 0\n", "line 32: failure_signals.window_hours: expected a positive number of hours"),
        ("  alert: {enabled: 1}\n", "line 32: failure_signals.alert.enabled: expected true or false"),
        ("  alert: {title: x}\n", "line 32: failure_signals.alert.title: unknown key"),
        # RE2 has no lookbehind: the pattern would not run in the models
        (
            "  hotfix:\n    label: '(?<=x)fix'\n",
            "line 33: failure_signals.hotfix.label: not a valid regular expression",
        ),
        ("  hotfix: []\n", "line 32: failure_signals.hotfix: expected true or false or a mapping"),
    ],
)
def test_failure_signals_errors_name_the_key_and_line(section, expected):
    text = VALID + "\nfailure_signals:\n" + section
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert expected in str(err.value)


MONOREPO = VALID.replace(
    "    repository: acme/search-api\n",
    "    repository: acme/checkout-api\n    paths: [services/search/**, /libs/search]\n",
)


def test_service_paths_load_and_services_without_them_own_the_repository():
    config = parse_config(MONOREPO)
    assert [(s["service"], s["paths"]) for s in config.services] == [
        ("checkout-api", []),
        ("search-api", ["services/search/**", "libs/search"]),
    ]


@pytest.mark.parametrize(
    ("pattern", "path", "owned"),
    [
        ("services/search/**", "services/search/api/main.py", True),
        ("services/search/**", "services/searching/main.py", False),
        ("services/search/**", "Services/search/main.py", False),  # paths are case-sensitive
        ("libs/search", "libs/search", True),
        ("libs/search", "libs/search/index.py", True),
        ("libs/search/", "libs/search/index.py", True),
        ("libs/search", "libs/search-v2/index.py", False),
        ("libs/*.py", "libs/a.py", True),
        ("libs/*.py", "libs/a/b.py", False),
        ("libs/?.py", "libs/a.py", True),
        ("**/*.sql", "schema.sql", True),
        ("**/*.sql", "db/migrations/001.sql", True),
        ("db/**/seed.sql", "db/seed.sql", True),
        ("db/**/seed.sql", "db/a/b/seed.sql", True),
        ("pkg/a+b.(x)", "pkg/a+b.(x)", True),
        ("pkg/a+b.(x)", "pkg/aab.(x)", False),
    ],
)
def test_path_patterns_match_as_documented_in_duckdb(pattern, path, owned):
    """Models match file paths with DuckDB's regexp_matches; the expectations are written by hand."""
    import duckdb

    from ingestion.patterns import path_pattern_regex

    regex = path_pattern_regex(pattern)
    assert duckdb.execute("select regexp_matches(?, ?)", [path, regex]).fetchone()[0] is owned


def test_service_path_rows_carry_the_pattern_and_its_regex():
    from ingestion.org_config import service_path_rows

    rows = service_path_rows(parse_config(MONOREPO).services)
    assert rows == [
        {
            "service": "search-api",
            "path_index": 0,
            "path_pattern": "services/search/**",
            "path_regex": "^services/search/.*$",
        },
        {
            "service": "search-api",
            "path_index": 1,
            "path_pattern": "libs/search",
            "path_regex": "^libs/search(/.*)?$",
        },
    ]


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        ("paths: []", "line 22: services[1].paths: name at least one path"),
        ("paths: services/search", "line 22: services[1].paths: expected a list"),
        ("paths: ['**']", "line 22: services[1].paths[0]: a path pattern must name a folder or file"),
        ("paths: ['src/[ab].py']", "line 22: services[1].paths[0]: character classes are not supported"),
        ("paths: ['']", "line 22: services[1].paths[0]: expected a non-empty string"),
    ],
)
def test_path_errors_name_the_key_and_line(paths, expected):
    assert "paths: [services/search/**" in MONOREPO
    text = MONOREPO.replace("paths: [services/search/**, /libs/search]", paths)
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert expected in str(info.value)
