"""Where a deploylens installation keeps its files (see docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "transform"
DEFAULT_WORKDIR = Path(".deploylens")


@dataclass(frozen=True)
class Workdir:
    root: Path

    @classmethod
    def at(cls, root: Path | str) -> Workdir:
        return cls(Path(root).resolve())

    @property
    def config(self) -> Path:
        return self.root / "org.yml"

    @property
    def warehouse(self) -> Path:
        """The published warehouse: readers only; replaced atomically by each refresh."""
        return self.root / "warehouse.duckdb"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def build_db(self) -> Path:
        """The one file refreshes write (dlt loads, dbt builds)."""
        return self.build_dir / "deploylens.duckdb"

    @property
    def lock_file(self) -> Path:
        return self.build_dir / "refresh.lock"

    @property
    def dlt_dir(self) -> Path:
        return self.root / "dlt"

    @property
    def dbt_target(self) -> Path:
        return self.build_dir / "dbt_target"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def truth(self) -> Path:
        return self.root / "truth"

    @property
    def repos(self) -> Path:
        """Local clones the demo writes for simulated services whose code lives in git only."""
        return self.root / "repos"

    @property
    def assessments(self) -> Path:
        """The teams' self-assessment files when org.yml names no `assessments_dir`."""
        return self.root / "assessments"

    def ensure(self) -> Workdir:
        for path in (self.root, self.build_dir, self.dlt_dir, self.dagster_home):
            path.mkdir(parents=True, exist_ok=True)
        return self
