"""The Dagster definitions: `dagster dev -m orchestration.definitions` loads them.

The org configuration and workdir come from DEPLOYLENS_CONFIG and DEPLOYLENS_WORKDIR (the CLI sets both).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from ingestion.config import load_config
from orchestration.assets import FULL_REBUILD_TAG, build_assets
from orchestration.resources import reap_orphaned_runs
from orchestration.workdir import DEFAULT_WORKDIR, Workdir

REFRESH_JOB = "refresh"
FULL_REBUILD_JOB = "full_rebuild"


def build_definitions(config_path: Path | str, workdir: Workdir) -> dg.Definitions:
    """One refresh job over every asset, run in one process so writes to the build file are serial."""
    config = load_config(config_path)
    workdir.ensure()
    os.environ["DEPLOYLENS_BUILD_DB"] = str(workdir.build_db)
    assets, checks, resources = build_assets(config, workdir)
    refresh = dg.define_asset_job(
        REFRESH_JOB,
        selection=dg.AssetSelection.all(),  # every asset and check; sources (external assets) are not steps
        executor_def=dg.in_process_executor,
        description="Load every configured source, build and test the models, publish the warehouse.",
    )
    # The same steps, with the incremental models rebuilt from scratch: for a changed model or rule, or to
    # prove the incremental state right (the marts come out identical).
    full_rebuild = dg.define_asset_job(
        FULL_REBUILD_JOB,
        selection=dg.AssetSelection.all(),
        executor_def=dg.in_process_executor,
        tags={FULL_REBUILD_TAG: "true"},
        description="A refresh that rebuilds every incremental model from scratch (dbt --full-refresh).",
    )
    hourly = dg.ScheduleDefinition(
        name="hourly_refresh",
        job=refresh,
        cron_schedule="0 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[refresh, full_rebuild],
        schedules=[hourly],
        sensors=[orphaned_runs_sensor(workdir)],
        resources=resources,
    )


def orphaned_runs_sensor(workdir: Workdir) -> dg.SensorDefinition:
    """Marks failed the runs a killed refresh left STARTED, from the daemon.

    The run queue starts one run at a time and counts such a run as in progress, so without this the
    hourly schedule and runs launched from the UI would wait for ever (a run only checks for orphans once
    it starts, which the queue never lets it do). It launches nothing.
    """

    @dg.sensor(
        name="reap_orphaned_runs",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Marks failed the refresh runs whose process was killed, so queued runs can start.",
    )
    def reap_orphaned_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        reaped = reap_orphaned_runs(context.instance, workdir.lock_file)
        return dg.SkipReason(
            f"marked failed: {', '.join(reaped)}" if reaped else "no run left behind by a killed refresh"
        )

    return reap_orphaned_runs_sensor


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded lazily by Dagster tools, so importing this module has no side effects."""
    workdir = Workdir.at(os.environ.get("DEPLOYLENS_WORKDIR", DEFAULT_WORKDIR))
    config = os.environ.get("DEPLOYLENS_CONFIG", str(workdir.config))
    return build_definitions(config, workdir)
