"""The benchmark inputs: org.yml's `benchmarks:` and `assessments_dir:`, DORA's Quick Check files read by the
local-file source (from the shared data, never copied into the project), and the self-assessment folder
with its quarantine."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from orgs import QUICKCHECK_DIR
from test_config import VALID

from ingestion.assessments import assessment_items, read_folder, write_assessment
from ingestion.config import ConfigError, parse_config
from ingestion.dora_quickcheck import QuickCheckError, answer_rows, benchmark_rows

needs_quickcheck = pytest.mark.skipif(
    not QUICKCHECK_DIR.is_dir(),
    reason="shared data missing: ../shared/data/dora-quickcheck (see data README)",
)


@pytest.fixture(autouse=True)
def _token(monkeypatch):
    monkeypatch.setenv("TEST_GH_TOKEN", "s3cret-gh")


def _with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "org.yml"
    path.write_text(VALID + extra)
    return path


def test_benchmarks_default_to_the_2025_edition_without_files():
    config = parse_config(VALID)
    assert config.benchmarks == {
        "edition": 2025,
        "industry": "all",
        "organization_size": "all",
        "quickcheck_dir": None,
    }
    assert config.assessments_dir is None


def test_unknown_edition_names_key_and_line(tmp_path):
    path = _with(tmp_path, "benchmarks:\n  edition: 2019\n")
    with pytest.raises(ConfigError, match=r"line \d+: benchmarks.edition: must be one of 2024, 2025"):
        parse_config(path.read_text(), path)


def test_missing_quickcheck_folder_is_a_clear_error(tmp_path):
    path = _with(tmp_path, "benchmarks:\n  quickcheck_dir: nowhere\n")
    with pytest.raises(ConfigError, match=r"benchmarks.quickcheck_dir: not a folder: .*nowhere"):
        parse_config(path.read_text(), path)


def test_assessments_dir_resolves_against_the_file(tmp_path):
    path = _with(tmp_path, "assessments_dir: answers\n")
    assert parse_config(path.read_text(), path).assessments_dir == tmp_path / "answers"


@needs_quickcheck
def test_quickcheck_segments_are_checked_against_the_edition(tmp_path):
    folder = QUICKCHECK_DIR.resolve()
    path = _with(
        tmp_path, f"benchmarks:\n  quickcheck_dir: {folder}\n  edition: 2024\n  industry: technology\n"
    )
    config = parse_config(path.read_text(), path)
    assert config.benchmarks["quickcheck_dir"] == folder
    # "solo" is a 2025 organisation size; 2024 spells it differently
    path = _with(
        tmp_path, f"benchmarks:\n  quickcheck_dir: {folder}\n  edition: 2024\n  organization_size: solo\n"
    )
    with pytest.raises(ConfigError, match=r"benchmarks.organization_size: unknown organization_size 'solo'"):
        parse_config(path.read_text(), path)


@needs_quickcheck
def test_quickcheck_files_load_as_published():
    rows = benchmark_rows(QUICKCHECK_DIR)
    by_key = {(r["edition"], r["comparison"], r["segment"], r["metric"]): (r["mean"], r["std"]) for r in rows}
    # values read by hand from the files
    assert by_key[(2024, "industry", "all", "leadtime")] == (5.1, 2.6)
    assert by_key[(2025, "industry", "technology", "changefailure")] == (1.9, 2.0)
    assert by_key[(2025, "organization_size", "fewer_than_100", "rework")] == (2.3, 2.1)
    assert (2024, "industry", "all", "rework") not in by_key  # rework joined in 2025
    answers = {(r["metric"], r["bucket"]): r["answer"] for r in answer_rows(QUICKCHECK_DIR)}
    assert answers[("deployfreq", 6)] == "On demand (multiple deploys per day)"
    assert len(answers) == 18


def test_quickcheck_file_of_the_wrong_shape_names_the_file(tmp_path):
    (tmp_path / "2025_industry_metrics.json").write_text(
        json.dumps({"all": {"leadtime": {"mean": "x", "std": 1}}})
    )
    with pytest.raises(
        QuickCheckError, match=r"2025_industry_metrics.json: all.leadtime.mean: expected a number"
    ):
        benchmark_rows(tmp_path)


def test_assessments_round_trip_and_bad_files_are_counted(tmp_path):
    items = [row["item"] for row in assessment_items()]
    assert len(items) == 15 and items[0] == "source_control" and items[-1] == "responsibility"
    written = write_assessment(
        tmp_path, "pay ments/eu", date(2026, 11, 1), {"source_control": 3, "safety": 0}
    )
    assert written.name == "pay_ments_eu--2026-11-01.json"
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "nodate.json").write_text(json.dumps({"team": "t", "scores": {}}))
    (tmp_path / "zz-again.json").write_text(
        json.dumps({"team": "pay ments/eu", "assessed_on": "2026-11-01", "scores": {"safety": 1}})
    )
    (tmp_path / "odd.json").write_text(
        json.dumps(
            {"team": "t", "assessed_on": "2026-10-01", "scores": {"safety": 5, "nope": 1, "openness": 2}}
        )
    )
    rows, bad = read_folder(tmp_path)
    assert sorted((r["team"], r["item"], r["score"]) for r in rows) == [
        ("pay ments/eu", "safety", 0),
        ("pay ments/eu", "source_control", 3),
        ("t", "openness", 2),
    ]
    assert sorted((b["scope"], b["reason"], b["action"], b["field"] or "") for b in bad) == [
        ("broken.json", "wrong_type", "quarantined", ""),
        ("nodate.json", "missing_timestamp", "quarantined", "assessed_on"),
        ("odd.json", "unknown_enum", "quarantined", "nope"),
        ("odd.json", "wrong_type", "quarantined", "safety"),
        ("zz-again.json", "duplicate_key", "deduplicated", ""),  # the first file in name order wins
    ]
    with pytest.raises(ValueError, match="scores must be 0-3"):
        write_assessment(tmp_path, "t", date(2026, 11, 2), {"safety": 4})


def _counts(db: Path, schema: str) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables"
            " where table_schema = ? and table_name not like '_dlt%'",
            [schema],
        ).fetchall()
        return {
            name: con.execute(f'select count(*) from {schema}."{name}"').fetchone()[0] for (name,) in tables
        }


@needs_quickcheck
def test_quickcheck_source_loads_the_folder_and_a_second_run_replaces_it(tmp_path):
    from ingestion.dora_quickcheck import dora_quickcheck_source
    from ingestion.pipelines import make_pipeline

    expected = {"benchmarks": len(benchmark_rows(QUICKCHECK_DIR)), "answers": 18}
    for _ in range(2):
        make_pipeline("dora_quickcheck", tmp_path / "b.duckdb", tmp_path / "dlt").run(
            dora_quickcheck_source(QUICKCHECK_DIR)
        )
        assert _counts(tmp_path / "b.duckdb", "raw_dora_quickcheck") == expected
    # counted by hand in the files: 2024, 14 industries + 10 sizes (with "all") x 5 metrics; 2025, 14 + 9 x 8
    assert expected["benchmarks"] == (14 + 10) * 5 + (14 + 9) * 8


def test_assessments_source_replaces_answers_and_appends_quarantine(tmp_path):
    from ingestion.assessments import assessments_source
    from ingestion.pipelines import make_pipeline

    folder = tmp_path / "answers"
    write_assessment(folder, "payments", date(2026, 11, 1), {"source_control": 3, "safety": 2})
    (folder / "broken.json").write_text("{")
    for run in (1, 2):
        make_pipeline("assessments", tmp_path / "b.duckdb", tmp_path / "dlt").run(assessments_source(folder))
        # answers are the folder (replaced); the bad file is counted once per load (appended)
        assert _counts(tmp_path / "b.duckdb", "raw_assessments") == {"scores": 2, "quarantine": run}
