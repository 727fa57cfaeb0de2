"""The gateway's listing and restore, through the real SDK against the test's Opik."""

from prompt_sync_pipeline.sync.engine import run_sync
from prompt_sync_pipeline.sync.opik_gateway import OpikGateway


def test_listing_counts_versions_and_restore_copies_metadata(forseti, opik_target):
    config = forseti.config
    with OpikGateway.from_environment(config.opik) as gateway:
        assert gateway.list_prompts() == {}  # the project doesn't exist yet
    run_sync(config)
    with OpikGateway.from_environment(config.opik) as gateway:
        listed = gateway.list_prompts()
        assert set(listed) == set(config.composites) | config.individual_names()
        charter_prompt = listed["forseti-persona-charter"]
        assert (charter_prompt.template_structure, charter_prompt.version_count) == ("chat", 1)
        original = gateway.get_version("forseti-persona-charter")
        restored = gateway.restore_version(charter_prompt.id, original.id)
        # Opik's restore is a new latest version that carries the old one's metadata.
        assert restored.id != original.id and restored.commit != original.commit
        assert restored.metadata == original.metadata
        assert gateway.get_version("forseti-persona-charter").id == restored.id
        assert gateway.list_prompts()["forseti-persona-charter"].version_count == 2
