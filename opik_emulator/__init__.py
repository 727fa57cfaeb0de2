"""A local, SQLite-backed emulator of the Opik REST API used by the prompt library.

It speaks the wire protocol of the `opik` Python SDK (see ``/api/v1/private/...``) well enough
for the SDK's prompt, environment and experiment calls, and adds test-only fault injection and a
request log under ``/__emulator__``.
"""

from opik_emulator.app import Emulator, create_app
from opik_emulator.control import AdminClient, EmulatorControl, LocalControl
from opik_emulator.evaluation import ExperimentStore
from opik_emulator.faults import FaultRule, Faults, RequestLog, RequestRecord
from opik_emulator.server import EmulatorServer
from opik_emulator.store import Store

__all__ = [
    "AdminClient",
    "Emulator",
    "EmulatorControl",
    "EmulatorServer",
    "ExperimentStore",
    "FaultRule",
    "Faults",
    "LocalControl",
    "RequestLog",
    "RequestRecord",
    "Store",
    "create_app",
]
