"""The worked example as fixtures: the forseti charter in a temporary directory, before and
after a first sync against the test's Opik."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prompt_sync_tests.forseti import Forseti, make_forseti
from prompt_sync_tests.opik_target import OpikTarget


@pytest.fixture
def forseti(tmp_path: Path, opik_target: OpikTarget) -> Forseti:
    """The forseti example copied into ``tmp_path``, syncing to this test's Opik project."""
    return make_forseti(tmp_path, opik_target.project_name)


@pytest.fixture
def synced(forseti: Forseti, opik_client: Any) -> Forseti:
    """The example after a first successful sync: Opik holds the seven prompts and their bases."""
    report = forseti.sync()
    assert not report.failed, report.to_json()
    return forseti
