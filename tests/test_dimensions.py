"""Team and service dimensions: from org.yml, from a Backstage catalog, merged, and into dim_teams and
dim_services; every mistake names its file, key and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest
import yaml

from ingestion.config import ConfigError, parse_config

BASE = textwrap.dedent(
    """\
    sources:
      pagerduty:
        base_url: https://api.pagerduty.com
        token: pd-literal
    """
)


def _config(body: str, path: Path | str = "org.yml"):
    return parse_config(BASE + textwrap.dedent(body), path)


def test_dimensions_from_the_file():
    config = _config(
        """\
        teams:
          - name: payments
            department: Commerce
            reporting_line: VP Eng > Payments
          - name: search
        services:
          - name: checkout-api
            team: payments
            repository: acme/checkout-api
            language: python
            tier: 1
            labels: [pci, api, api]
          - name: search-api
            team: search
            repository: acme/search-api
        """
    )
    payments, search = config.teams
    assert (payments["department"], payments["reporting_line"]) == ("Commerce", "VP Eng > Payments")
    assert (search["department"], search["reporting_line"]) == (None, None)
    checkout, search_api = config.services
    assert (checkout["language"], checkout["tier"], checkout["labels"]) == ("python", "1", ["api", "pci"])
    assert (search_api["language"], search_api["tier"], search_api["labels"]) == (None, None, [])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            """\
            teams:
              - name: payments
                department: ""
            services:
              - {name: a, team: payments, repository: acme/a}
            """,
            "org.yml line 7: teams[0].department: expected a non-empty string",
        ),
        (
            """\
            teams:
              - name: payments
            services:
              - name: a
                team: payments
                repository: acme/a
                labels: {kind: api}
            """,
            "org.yml line 11: services[0].labels: expected a list, got dict",
        ),
        (
            """\
            teams:
              - name: payments
            services:
              - name: a
                team: payments
                repository: acme/a
                labels: [api, 3]
            """,
            "org.yml line 11: services[0].labels[1]: expected a non-empty string",
        ),
        (
            """\
            teams:
              - name: payments
                departmnet: Commerce
            services:
              - {name: a, team: payments, repository: acme/a}
            """,
            "org.yml line 7: teams[0].departmnet: unknown key",
        ),
        (
            """\
            catalog: no-such-catalog
            teams:
              - name: payments
            services:
              - {name: a, team: payments, repository: acme/a}
            """,
            "org.yml line 5: catalog: no such file or folder",
        ),
    ],
)
def test_dimension_mistakes_name_key_and_line(body, message, tmp_path):
    with pytest.raises(ConfigError) as caught:
        _config(body, tmp_path / "org.yml")
    assert str(caught.value).startswith(message), str(caught.value)


CATALOG_GROUPS = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: engineering
spec:
  type: division
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: commerce
spec:
  type: department
  parent: group:default/engineering
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
  description: Checkout and billing
spec:
  type: team
  parent: commerce
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: search
spec:
  type: team
  parent: engineering
  children: []
"""

CATALOG_COMPONENTS = """\
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: checkout
spec:
  owner: payments
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout-api
  tags: [java, pci]
  labels:
    tier: "1"
    language: java
    cost-centre: cc42
  annotations:
    github.com/project-slug: acme/checkout-api
spec:
  type: service
  lifecycle: production
  owner: group:default/payments
  system: checkout
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: search-api
  tags: [search]
  annotations:
    github.com/project-slug: acme/search-api
spec:
  type: service
  lifecycle: production
  owner: search
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: search-openapi
spec:
  type: openapi
  owner: search
"""


def _write_catalog(folder: Path, components: str = CATALOG_COMPONENTS) -> None:
    folder.mkdir()
    (folder / "groups.yaml").write_text(CATALOG_GROUPS)
    (folder / "catalog-info.yaml").write_text(components)


def test_backstage_catalog_gives_teams_services_and_dimensions(tmp_path):
    _write_catalog(tmp_path / "catalog")
    config = _config(
        """\
        catalog: catalog
        teams:
          - name: search
            department: Discovery
        services:
          - name: search-api
            team: search
            repository: acme/search-api-v2
            labels: [critical]
        """,
        tmp_path / "org.yml",
    )
    teams = {team["team"]: team for team in config.teams}
    # Groups that own a component are teams; "engineering" and "commerce" only organise them.
    assert set(teams) == {"search", "payments"}
    assert teams["payments"]["department"] == "commerce"
    assert teams["payments"]["reporting_line"] == "engineering > commerce"
    assert teams["payments"]["description"] == "Checkout and billing"
    # The file wins where both say something; the catalog fills the rest.
    assert teams["search"]["department"] == "Discovery"
    assert teams["search"]["reporting_line"] == "engineering"
    services = {service["service"]: service for service in config.services}
    assert set(services) == {"search-api", "checkout-api"}
    assert services["search-api"]["repository"] == "acme/search-api-v2"
    assert services["search-api"]["labels"] == ["critical"]
    assert services["search-api"]["service_type"] == "service"
    checkout = services["checkout-api"]
    assert (checkout["team"], checkout["repository"]) == ("payments", "acme/checkout-api")
    assert (checkout["language"], checkout["tier"], checkout["system"]) == ("java", "1", "checkout")
    assert checkout["labels"] == ["cost-centre=cc42", "java", "pci"]


def test_catalog_mistakes_name_file_and_line(tmp_path):
    broken = CATALOG_COMPONENTS.replace("  tags: [java, pci]", "  tags: java")
    _write_catalog(tmp_path / "catalog", broken)
    with pytest.raises(
        ConfigError, match=r"catalog catalog-info.yaml line 12: metadata.tags: expected a list"
    ):
        _config("catalog: catalog\nteams: []\n", tmp_path / "org.yml")


def test_catalog_component_with_unknown_owner_is_named(tmp_path):
    orphan = CATALOG_COMPONENTS.replace("  owner: search\n---", "  owner: group:default/nobody\n---", 1)
    _write_catalog(tmp_path / "catalog", orphan)
    with pytest.raises(ConfigError, match=r"catalog\.search-api\.team: unknown team 'nobody'"):
        _config("catalog: catalog\n", tmp_path / "org.yml")


def test_tiny_org_dimensions_reach_the_dims(tiny_org):
    org = yaml.safe_load(tiny_org.config_path.read_text())
    con = duckdb.connect(str(tiny_org.workdir.warehouse), read_only=True)
    try:
        teams = {
            row[0]: row[1:]
            for row in con.execute("select team, department, reporting_line from marts.dim_teams").fetchall()
        }
        services = {
            row[0]: row[1:]
            for row in con.execute(
                "select service, language, tier, labels from marts.dim_services"
            ).fetchall()
        }
    finally:
        con.close()
    assert teams == {t["name"]: (t.get("department"), t.get("reporting_line")) for t in org["teams"]}
    assert any(department is None for department, _ in teams.values())
    expected = {
        s["name"]: (
            s.get("language"),
            None if s.get("tier") is None else str(s["tier"]),
            sorted(s.get("labels") or []),
        )
        for s in org["services"]
    }
    assert services == expected
    assert any(labels == [] for _, _, labels in services.values())
