"""The code location's defs folder (``dg``'s layout): one folder per charter, each with the
``defs.yaml`` of a ``prompt_sync_pipeline.PromptSyncComponent`` instance. This repository's own
instance is the worked example, ``forseti``."""
