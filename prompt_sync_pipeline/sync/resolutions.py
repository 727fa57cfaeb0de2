"""How a user settles a conflict: the ``--keep-charter`` / ``--keep-opik`` choices, checked.

The engine takes them as one mapping, name → side, where a name is

- a prompt (``forseti.persona``): that side's text wins for this prompt;
- a composite (``forseti-persona-charter``): with ``charter``, the rebuild from the charter
  replaces Opik's version (also a malformed one); with ``opik``, Opik's version of that composite
  wins for every part it holds;
- ``PROMPT=COMPOSITE`` (``forseti.persona=forseti-persona-category``), side ``opik`` only: when
  composites in Opik disagree on a shared prompt, the version in that composite wins.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from typing import Literal

from .config import SyncConfig

Side = Literal["charter", "opik"]


class ResolutionError(ValueError):
    """A ``--keep-*`` choice names nothing the configuration knows, or contradicts another."""


def command_prefix(config_path: str | None) -> str:
    """How the user runs the tool with this configuration, for the fix commands in messages."""
    return f"prompt-sync --config {shlex.quote(config_path)}" if config_path else "prompt-sync"


def from_composite(prompt: str, composite: str) -> str:
    """The key that says: for ``prompt``, Opik's version in ``composite`` wins."""
    return f"{prompt}={composite}"


def chosen_composite(keep: Mapping[str, Side], prompt: str) -> str | None:
    """The composite whose Opik version of ``prompt`` the user chose, if any."""
    for key, side in keep.items():
        name, sep, composite = key.partition("=")
        if sep and side == "opik" and name == prompt:
            return composite
    return None


def parse_keep(
    config: SyncConfig, *, charter: Iterable[str] = (), opik: Iterable[str] = ()
) -> dict[str, Side]:
    """The engine's mapping from the command line's choices; unknown or contradictory ones raise."""
    prompts = sorted(config.individual_names())
    composites = list(config.composites)
    keep: dict[str, Side] = {}

    def choose(key: str, side: Side, given: str) -> None:
        if keep.get(key, side) != side:
            raise ResolutionError(f"{given!r} given to both --keep-charter and --keep-opik")
        keep[key] = side

    for name in charter:
        if name not in prompts and name not in composites:
            raise ResolutionError(_unknown("--keep-charter", name, prompts, composites))
        choose(name, "charter", name)
    for name in opik:
        prompt, sep, composite = name.partition("=")
        if sep:
            users = config.composites_using(prompt)
            if not users:
                raise ResolutionError(_unknown("--keep-opik", prompt, prompts, []))
            if composite not in users:
                raise ResolutionError(
                    f"--keep-opik {name}: {composite!r} does not use {prompt!r}; choose one of "
                    + ", ".join(from_composite(prompt, c) for c in users)
                )
            choose(name, "opik", name)
        elif name in composites:
            choose(name, "opik", name)  # also settles a write race on it (see the engine)
            for part in config.composites[name].parts().values():
                choose(from_composite(part, name), "opik", name)
        elif name in prompts:
            choose(name, "opik", name)
        else:
            raise ResolutionError(_unknown("--keep-opik", name, prompts, composites))
    for prompt in prompts:
        winners = {k for k in keep if k.startswith(prompt + "=")}
        if len(winners) > 1:
            raise ResolutionError(
                f"{prompt!r}: only one composite's version can win, "
                f"not {', '.join(sorted(winners))}"
            )
        if winners and keep.get(prompt) == "charter":
            raise ResolutionError(f"{prompt!r} given to both --keep-charter and --keep-opik")
    for composite in composites:
        if keep.get(composite) == "charter" and chosen_by(keep, composite):
            raise ResolutionError(f"{composite!r} given to both --keep-charter and --keep-opik")
    return keep


def chosen_by(keep: Mapping[str, Side], composite: str) -> bool:
    """Whether some prompt's Opik version is to be taken from ``composite``."""
    return any(key.endswith("=" + composite) for key in keep)


def _unknown(option: str, name: str, prompts: list[str], composites: list[str]) -> str:
    valid = f"prompts: {', '.join(prompts)}"
    if composites:
        valid += f"; composites: {', '.join(composites)}"
    return f"{option} {name}: no such prompt or composite in the configuration ({valid})"
