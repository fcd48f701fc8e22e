"""Only the unified layer reads the code hosts' and clones' staging models (docs/architecture.md, "The
unified layer"): every other intermediate model and every mart reads the unions, so a new source touches
one union per entity and nothing downstream."""

from __future__ import annotations

import re
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "models"

# Staging of the sources that speak of commits, branches, pull requests, reviews and deployments.
SOURCE_STAGING = re.compile(r"""ref\(\s*['"](stg_(?:github|gitlab|git|jenkins)__\w+)['"]\s*\)""")


def _readers() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted([*MODELS.glob("intermediate/*.sql"), *MODELS.glob("intermediate/*.py")]):
        out[path.name] = set(SOURCE_STAGING.findall(path.read_text()))
    for path in sorted([*MODELS.glob("marts/*.sql"), *MODELS.glob("marts/*.py")]):
        out[path.name] = set(SOURCE_STAGING.findall(path.read_text()))
    return out


def test_the_pattern_finds_staging_refs_in_sql_and_python():
    assert SOURCE_STAGING.findall("select * from {{ ref('stg_github__commits') }}") == ["stg_github__commits"]
    assert SOURCE_STAGING.findall('dbt.ref("stg_git__branches")') == ["stg_git__branches"]
    assert SOURCE_STAGING.findall("{{ ref('stg_config__services') }}") == []


def test_only_the_unions_read_source_staging():
    readers = _readers()
    assert "int_commits_unioned.sql" in readers and "fct_changes.sql" in readers
    leaking = {
        name: refs
        for name, refs in readers.items()
        if refs and not re.fullmatch(r"int_\w+_unioned\.sql", name)
    }
    assert leaking == {}


def test_every_union_reads_source_staging():
    readers = _readers()
    unions = [name for name in readers if re.fullmatch(r"int_\w+_unioned\.sql", name)]
    assert sorted(unions) == [
        "int_branches_unioned.sql",
        "int_commit_files_unioned.sql",
        "int_commits_unioned.sql",
        "int_deployments_unioned.sql",
        "int_pull_request_commits_unioned.sql",
        "int_pull_request_files_unioned.sql",
        "int_pull_requests_unioned.sql",
        "int_review_events_unioned.sql",
    ]
    assert all(readers[name] for name in unions)
