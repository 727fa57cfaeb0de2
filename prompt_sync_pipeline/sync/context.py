"""What every step of one run shares: the configuration, Opik, the state, the bases, the pool."""

from __future__ import annotations

from dataclasses import dataclass

from ..opik.project import OpikProject
from .bases import Bases
from .config import SyncConfig
from .messages import Fixes
from .run_state import RunState
from .workers import Workers


@dataclass
class SyncRun:
    config: SyncConfig
    opik: OpikProject
    state: RunState
    bases: Bases
    workers: Workers
    fixes: Fixes
    dry_run: bool = False
