"""The prompt performance view: which versions of the managed prompts won the team's experiments."""

from .engine import UnknownPrompt, collect_performance, managed_prompts
from .models import (
    ExperimentRun,
    PerformanceReport,
    PromptPerformance,
    VersionPerformance,
)

__all__ = [
    "ExperimentRun",
    "PerformanceReport",
    "PromptPerformance",
    "UnknownPrompt",
    "VersionPerformance",
    "collect_performance",
    "managed_prompts",
]
