"""The alerts raw contract (docs/sources.md, "Alerts"): no alerting tool is read yet, so a hand-written raw
table stands for one. `stg_alerts__alerts` keys, renames and converts it to UTC, and reads a loader that
never filled a column as a typed null; without the table it is an empty stand-in (test_optional_source)."""

from __future__ import annotations

import duckdb
from dbt_build import dbt_build
from staging_schema import read_snapshot, staging_columns


def test_a_loaded_alerts_table_is_staged_with_utc_times_and_the_contract_columns(tmp_path):
    db = tmp_path / "alerts.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw_alerts")
        # a loader that never saw a severity or a resolution: dlt creates no column for those
        con.execute(
            """
            create table raw_alerts.alerts as
            select * from (values
                ('a-1', 'alertmanager', 'checkout-api', 'High 5xx rate',
                 timestamptz '2026-06-01 12:30:00+02:00'),
                ('77', 'datadog', null, 'Disk almost full', timestamptz '2026-06-02 08:00:00+00:00')
            ) as rows(id, source, service, title, started_at)
            """
        )
    dbt_build(db, tmp_path, "stg_alerts__alerts")
    with duckdb.connect(str(db)) as con:
        rows = con.execute(
            "select alert_id, source_system, source_alert_id, service, title, severity, started_at, "
            "resolved_at from staging.stg_alerts__alerts order by alert_id"
        ).fetchall()
    assert [row[:6] for row in rows] == [
        ("alertmanager:a-1", "alertmanager", "a-1", "checkout-api", "High 5xx rate", None),
        ("datadog:77", "datadog", "77", None, "Disk almost full", None),
    ]
    assert [str(row[6]) for row in rows] == ["2026-06-01 10:30:00", "2026-06-02 08:00:00"]  # naive UTC
    assert [row[7] for row in rows] == [None, None]
    # the same columns and types as the stand-in every other warehouse has
    built = staging_columns(db, read_only=False)["stg_alerts__alerts"]
    assert built == read_snapshot()["tiny"]["stg_alerts__alerts"]
