"""prompt-sync: keeps a team's prompt templates in git and in Opik in step, both ways.

``prompt_sync_pipeline.PromptSyncComponent`` is the Dagster component (``dg list components``
finds it through the package's ``dagster_dg_cli.registry_modules`` entry point). It is imported
on first use, so the command line never pays for importing Dagster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .components.component import PromptSyncComponent

__all__ = ["PromptSyncComponent"]


def __getattr__(name: str) -> Any:
    if name == "PromptSyncComponent":
        from .components.component import PromptSyncComponent

        return PromptSyncComponent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
