"""All of prompt-sync's access to Opik, used from below by ``sync``, ``performance``,
``promotion`` and ``delivery``.

- ``settings``: the configuration's ``opik:`` section.
- ``models``: prompt versions, the listing and experiments as plain values.
- ``errors``: one exception type, and the diagnosis of an Opik that can't be used.
- ``sdk``: the one place that knows the SDK's insides.
- ``transport``: clients per worker, pacing and retries.
- ``prompts``, ``experiments``: what a run reads and writes; ``project``: both, connected.

Importing this package imports no SDK and no HTTP client: ``project`` does, when it connects.
"""

from .errors import OpikAddressError, OpikError, OpikUnavailable
from .models import Experiment, ExperimentItem, RemotePrompt, RemoteVersion, VersionLink
from .settings import OpikSettings, RetrySettings

__all__ = [
    "Experiment",
    "ExperimentItem",
    "OpikAddressError",
    "OpikError",
    "OpikSettings",
    "OpikUnavailable",
    "RemotePrompt",
    "RemoteVersion",
    "RetrySettings",
    "VersionLink",
]
