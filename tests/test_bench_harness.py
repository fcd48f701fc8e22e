"""The benchmark harness's plumbing (results file, names, the printed table, the memory sampler).

No timings are asserted here: speed is measured by `make bench`, not by tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # the repository root: `benchmarks` is no package

from benchmarks.__main__ import ALIASES, select
from benchmarks.app_pages import navigation_pages
from benchmarks.harness import (
    CommandFailed,
    merge_results,
    run_measured,
    scaled_name,
    table,
    target_of,
    verdict,
)


def test_results_merge_keeps_earlier_figures(tmp_path):
    path = tmp_path / "bench" / "results.json"
    merge_results(path, {"a_s": {"value": 1.0, "unit": "s"}, "b_s": {"value": 2.0, "unit": "s"}})
    merged = merge_results(path, {"b_s": {"value": 3.0, "unit": "s"}, "c_ms": {"value": 4, "unit": "ms"}})
    expected = {
        "a_s": {"value": 1.0, "unit": "s"},
        "b_s": {"value": 3.0, "unit": "s"},
        "c_ms": {"value": 4, "unit": "ms"},
    }
    assert merged == expected
    assert json.loads(path.read_text()) == expected


def test_a_results_file_that_does_not_parse_is_replaced(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("{not json")
    assert merge_results(path, {"x": {"value": 1, "unit": "s"}}) == {"x": {"value": 1, "unit": "s"}}


def test_rehearsals_are_named_after_their_scale_and_keep_the_large_target():
    assert scaled_name("large_full_refresh_s", "large") == "large_full_refresh_s"
    assert scaled_name("large_full_refresh_s", "small") == "small_full_refresh_s"
    assert scaled_name("fourkeys_ratio", "small") == "fourkeys_ratio_small"
    assert scaled_name("demo_small_refresh_s", "small") == "demo_small_refresh_s_small"
    assert target_of("small_full_refresh_s").value == 300
    assert target_of("medium_extract_records_per_s").at_most is False


def test_selection_by_name_runs_each_benchmark_once():
    chosen = select(["large_full_build_s", "large_peak_rss_gib", "demo_small_refresh_s"])
    assert [benchmark.names[0] for benchmark in chosen] == ["large_full_refresh_s", "demo_small_refresh_s"]
    assert ALIASES["demo_small_refresh"] == "demo_small_refresh_s"
    assert [b.names for b in select(["demo_small_refresh"])] == [("demo_small_refresh_s",)]
    with pytest.raises(SystemExit, match="unknown benchmark.*no_such_thing"):
        select(["no_such_thing"])


def test_table_prints_target_ratio_and_verdict():
    results = {
        "large_full_refresh_s": {"value": 450.0, "unit": "s"},
        "large_extract_records_per_s": {"value": 30000, "unit": "records/s"},
        "fourkeys_ratio": {"value": 1.5, "unit": "x"},
    }
    lines = table(
        results, ["large_full_refresh_s", "large_extract_records_per_s", "fourkeys_ratio", "absent"]
    )
    lines = lines.splitlines()
    assert len(lines) == 4  # header and three rows; a name without a result is left out
    assert lines[1].split() == ["large_full_refresh_s", "450", "s", "<=", "300", "1.50x", "MISS"]
    assert lines[2].split() == [
        "large_extract_records_per_s",
        "30,000",
        "records/s",
        ">=",
        "20,000",
        "1.50x",
        "pass",
    ]
    assert lines[3].split() == ["fourkeys_ratio", "1.5", "x"]  # printed only: no target
    assert verdict("large_peak_rss_gib", 4.0) == ("<= 4", "1.00x", "pass")


def test_peak_rss_counts_children_alive_together(tmp_path):
    """Two grandchildren each holding 200 MiB at the same time: the tree's peak is their sum (plus
    interpreters), more than any single process's."""
    child = textwrap.dedent(
        """
        import sys, time
        block = bytearray(200 * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        open(sys.argv[1], "w").close()
        time.sleep(3)
        """
    )
    parent = textwrap.dedent(
        f"""
        import pathlib, subprocess, sys, time
        child = {child!r}
        ready = [pathlib.Path(sys.argv[1]) / f"ready{{n}}" for n in range(2)]
        procs = [subprocess.Popen([sys.executable, "-c", child, str(path)]) for path in ready]
        for proc in procs:
            proc.wait()
        """
    )
    measured = run_measured([sys.executable, "-c", parent, str(tmp_path)], tmp_path, tmp_path / "log")
    assert 400 / 1024 < measured.peak_gib < 1.0
    # what each process held at the peak: both children (about 200 MiB each), named by their program
    held = re.findall(r"(\S+ -c) ([0-9.]+) GiB", measured.peak_summary)
    assert len(held) == 2, measured.peak_summary
    assert all(name.startswith("python") and 0.18 < float(size) < 0.3 for name, size in held), held


def test_a_failing_command_says_why(tmp_path):
    with pytest.raises(RuntimeError, match="(?s)exited 3.*went wrong"):
        run_measured(
            [sys.executable, "-c", "import sys; print('went wrong'); sys.exit(3)"], tmp_path, tmp_path / "log"
        )


def test_a_command_past_its_budget_is_stopped_and_says_so(tmp_path):
    script = "import time; print('working', flush=True); time.sleep(60)"
    with pytest.raises(CommandFailed, match="(?s)stopped at its budget of 2 s.*working") as failed:
        run_measured([sys.executable, "-c", script], tmp_path, tmp_path / "log", budget_s=2)
    assert failed.value.stopped_at_budget
    assert 2 <= failed.value.measured.seconds < 30
    assert failed.value.measured.peak_gib > 0


def test_the_budget_stops_a_command_whose_parent_ignores_and_blocks_sigterm(tmp_path):
    import signal

    script = "import time; print('working', flush=True); time.sleep(60)"
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        with pytest.raises(CommandFailed, match="stopped at its budget of 2 s") as failed:
            run_measured([sys.executable, "-c", script], tmp_path, tmp_path / "log", budget_s=2)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        signal.signal(signal.SIGTERM, previous)
    assert failed.value.measured.seconds < 30


def test_pages_come_from_the_navigation(tmp_path):
    entry = tmp_path / "app.py"
    entry.write_text(
        'import streamlit as st\npage = st.navigation([st.Page("app_pages/a.py", title="A"), '
        'st.Page("app_pages/b.py")])\n'
    )
    assert navigation_pages(entry) == ["app_pages/a.py", "app_pages/b.py"]
    assert "app_pages/overview.py" in navigation_pages()


def test_cli_lists_the_names():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--list"], capture_output=True, text=True, check=True
    )
    assert "large_full_refresh_s" in done.stdout and "renovate_attribution_s" in done.stdout


def test_extracted_rows_counts_what_a_stopped_load_left(tmp_path):
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    from benchmarks.profile import extracted_rows

    jobs = tmp_path / "dlt" / "deploylens_github" / "normalize" / "abc" / "123.4" / "new_jobs"
    jobs.mkdir(parents=True)
    with gzip.open(jobs / "commits.1.0.typed-jsonl.gz", "wb") as out:  # two pages of rows, one row
        out.write(b'[{"sha": "a"}, {"sha": "b"}]\n[{"sha": "c"}]\n{"sha": "d"}\n')
    pq.write_table(pa.table({"id": [1, 2, 3]}), jobs / "commits.2.0.parquet")
    (jobs / "deployments.3.0.parquet").write_bytes(b"PAR1 still being written")
    found = extracted_rows(tmp_path)
    assert {table: rows for table, (rows, _) in found.items()} == {
        "github.commits": 7,
        "github.deployments": 0,
    }
    assert found["github.deployments"][1] == len(b"PAR1 still being written")


def test_a_failed_refresh_is_not_started_again_by_a_later_benchmark(tmp_path, monkeypatch):
    """After this run's refresh benchmarks published nothing, the benchmarks that read their warehouse say so
    instead of refreshing from a fresh workdir again (which would delete what the failed refresh left)."""
    from benchmarks import large

    started: list[str] = []

    def refresh(scale, bench_dir, incremental=True):
        started.append(scale)
        large._REFRESHED.add(scale)
        (large.org_workdir(bench_dir, scale) / "left_by_the_failed_refresh").parent.mkdir(parents=True)
        (large.org_workdir(bench_dir, scale) / "left_by_the_failed_refresh").write_text("logs")
        raise RuntimeError("the full refresh failed")

    monkeypatch.setattr(large, "_REFRESHED", set())
    monkeypatch.setattr(large, "refresh_benchmarks", refresh)
    with pytest.raises(large.BenchmarkUnavailable, match="published no warehouse"):
        try:
            large.ensure_org_warehouse("small", tmp_path)  # the first asks for a refresh, which fails
        except RuntimeError:
            large.ensure_org_warehouse("small", tmp_path)  # the next one does not start another
    assert started == ["small"]
    assert (large.org_workdir(tmp_path, "small") / "left_by_the_failed_refresh").read_text() == "logs"
