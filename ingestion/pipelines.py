"""The dlt pipeline every source loads through: one DuckDB build file, one dataset per source."""

from __future__ import annotations

from pathlib import Path

import dlt

# The configuration lands in `raw_config` (docs/architecture.md); other sources in `raw_<name>`.
DATASET_NAMES = {"org_config": "raw_config"}


def make_pipeline(
    name: str, build_db: str | Path, pipelines_dir: str | Path, progress: str | None = None
) -> dlt.Pipeline:
    """A pipeline named `deploylens_<name>` loading dataset `raw_<name>` into the DuckDB file `build_db`
    (`raw_config` for the org configuration).

    Each source gets its own pipeline (and so its own state and working folder under `pipelines_dir`), so
    one source failing or being reset does not disturb the others' incremental cursors.
    """
    Path(build_db).parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"progress": progress} if progress else {}
    return dlt.pipeline(
        pipeline_name=f"deploylens_{name}",
        destination=dlt.destinations.duckdb(str(build_db)),
        dataset_name=DATASET_NAMES.get(name, f"raw_{name}"),
        pipelines_dir=str(pipelines_dir),
        **kwargs,
    )
