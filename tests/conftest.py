"""Shared fixtures: a tiny simulated org built once through the whole stack."""

from __future__ import annotations

import os

import pytest
from orgs import BuiltOrg, build_org


@pytest.fixture(scope="session")
def tiny_org(tmp_path_factory) -> BuiltOrg:
    saved = {
        k: os.environ.get(k)
        for k in ("DAGSTER_HOME", "DEPLOYLENS_WORKDIR", "DEPLOYLENS_CONFIG", "DEPLOYLENS_BUILD_DB")
    }
    built = build_org(tmp_path_factory.mktemp("tiny-org"), "tiny", seed=11)
    yield built
    built.emulator.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
