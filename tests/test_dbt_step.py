"""The dbt step of a refresh: a new workdir reuses the project parse, and the output stays readable.

dbt keys its partial parse on the profile's connection settings, which hold each workdir's build database
path; without re-keying every first refresh in a new workdir parses the whole project again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestration import assets

DBT = str(Path(sys.executable).with_name("dbt"))
PROJECT = str(assets.DBT_PROJECT_DIR)


def _parse(target: Path, build_db: Path) -> str:
    env = {**os.environ, "DEPLOYLENS_BUILD_DB": str(build_db)}
    done = subprocess.run(
        [DBT, "parse", "--project-dir", PROJECT, "--profiles-dir", PROJECT, "--target-path", str(target)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout


def test_seeded_parse_is_reused_by_dbt_for_another_build_database(tmp_path, monkeypatch):
    parsed = tmp_path / "project-target"
    monkeypatch.setenv("DEPLOYLENS_BUILD_DB", str(tmp_path / "first" / "deploylens.duckdb"))
    _parse(parsed, tmp_path / "first" / "deploylens.duckdb")
    (parsed / assets.PARSED_FOR).write_text(str(tmp_path / "first" / "deploylens.duckdb"))

    second = tmp_path / "second" / "deploylens.duckdb"
    monkeypatch.setenv("DEPLOYLENS_BUILD_DB", str(second))
    target = tmp_path / "workdir-target"
    assets.seed_partial_parse(parsed, target)
    seeded = (target / "partial_parse.msgpack").read_bytes()
    assert assets.profile_checksum(str(second)).encode() in seeded

    out = _parse(target, second)
    assert "Unable to do partial parsing" not in out, out


def test_unexpected_checksum_leaves_the_parse_alone(tmp_path):
    file = tmp_path / "partial_parse.msgpack"
    file.write_bytes(b"no checksum of ours in here")
    assert not assets._rekey_partial_parse(file, "/a/deploylens.duckdb", "/b/deploylens.duckdb")
    assert file.read_bytes() == b"no checksum of ours in here"


def test_dbt_progress_filter_keeps_models_failures_and_summary(capsys):
    import io

    out = io.StringIO()
    quiet = assets.DbtProgressFilter(out)
    lines = [
        "1 of 338 START sql view model staging.stg_git__commits ........ [RUN]\n",
        "1 of 338 OK created sql view model staging.stg_git__commits ... [\x1b[32mOK\x1b[0m in 0.05s]\n",
        "2 of 338 PASS not_null_fct_changes_change_id .................. [\x1b[32mPASS\x1b[0m in 0.02s]\n",
        "3 of 338 FAIL 1 unique_fct_changes_change_id .................. [\x1b[31mFAIL 1\x1b[0m in 0.02s]\n",
        "4 of 338 WARN 2 accepted_values_fct_changes_change_kind ....... [WARN 2 in 0.02s]\n",
        "Finished running 1 seed, 18 table models in 0 hours 0 minutes and 16.19 seconds (16.19s).\n",
    ]
    for line in lines:
        quiet.write(line)
    assert out.getvalue().splitlines() == [lines[i].rstrip("\n") for i in (1, 3, 4, 5)]
    assert quiet.hidden == 2


def test_refresh_leaves_out_only_the_tests_of_sources_neither_configured_nor_loaded(tmp_path):
    import duckdb

    build_db = tmp_path / "deploylens.duckdb"
    assert assets.unused_sources(["github", "pagerduty"], build_db) == ["git", "gitlab", "jenkins", "alerts"]
    con = duckdb.connect(str(build_db))
    try:
        for schema in ("raw_github", "raw_jenkins", "raw_config"):  # jenkins loaded once, then left out
            con.execute(f"create schema {schema}")
    finally:
        con.close()
    unused = assets.unused_sources(["github", "pagerduty"], build_db)
    assert unused == ["git", "gitlab", "alerts"]
    assert assets.stand_in_tests(unused).split(" ") == [
        "test_type:data,path:../models/staging/git",
        "test_type:data,path:../models/staging/gitlab",
        "test_type:data,path:../models/staging/alerts",
    ]
    assert assets.stand_in_tests([]) is None
    assert assets.dbt_build_args(full_rebuild=False) == ["build", "--exclude", "test_type:unit"]
    assert assets.dbt_build_args(full_rebuild=True)[-1] == "--full-refresh"


def test_a_left_out_source_selects_only_the_tests_its_staging_folder_defines(tmp_path):
    """dbt reads the selector as meant: the folder's own data tests, none of a later layer."""
    import json
    import shutil

    from dbt.cli.main import dbtRunner

    target = tmp_path / "target"
    shutil.copytree(assets.DBT_PROJECT_DIR / "target", target)
    manifest = json.loads((target / "manifest.json").read_text())
    selector = assets.stand_in_tests(["gitlab"])
    result = dbtRunner().invoke(
        ["ls", "--resource-type", "test", "--select", selector, "--project-dir", PROJECT, "--profiles-dir"]
        + [PROJECT, "--target-path", str(target), "--log-path", str(tmp_path), "--quiet", "--output", "json"]
        + ["--output-keys", "unique_id"]
    )
    selected = {json.loads(line)["unique_id"] for line in result.result}
    defined = {
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "test"
        and node["original_file_path"].endswith("staging/gitlab/_gitlab__models.yml")
        and "test_metadata" in node
    }
    assert defined and selected == defined
