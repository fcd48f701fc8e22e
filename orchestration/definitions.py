"""The Dagster definitions: `dagster dev -m orchestration.definitions` loads them.

The org configuration and workdir come from DEPLOYLENS_CONFIG and DEPLOYLENS_WORKDIR (the CLI sets both).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from ingestion.config import load_config
from orchestration.assets import build_assets
from orchestration.workdir import DEFAULT_WORKDIR, Workdir

REFRESH_JOB = "refresh"


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
    hourly = dg.ScheduleDefinition(
        name="hourly_refresh",
        job=refresh,
        cron_schedule="0 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions(
        assets=assets, asset_checks=checks, jobs=[refresh], schedules=[hourly], resources=resources
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded lazily by Dagster tools, so importing this module has no side effects."""
    workdir = Workdir.at(os.environ.get("DEPLOYLENS_WORKDIR", DEFAULT_WORKDIR))
    config = os.environ.get("DEPLOYLENS_CONFIG", str(workdir.config))
    return build_definitions(config, workdir)
