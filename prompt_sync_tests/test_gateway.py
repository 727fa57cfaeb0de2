"""The project's listing and restore, through the real SDK against the test's Opik."""

from prompt_sync_pipeline.opik.project import OpikProject
from prompt_sync_pipeline.sync.engine import run_sync


def test_listing_counts_versions_and_restore_copies_metadata(forseti, opik_target):
    config = forseti.config
    with OpikProject.connect(config.opik) as project:
        assert project.prompts.list_prompts() == {}  # the project doesn't exist yet
    run_sync(config)
    with OpikProject.connect(config.opik) as project:
        listed = project.prompts.list_prompts()
        assert set(listed) == set(config.composites) | config.individual_names()
        charter_prompt = listed["forseti-persona-charter"]
        assert (charter_prompt.template_structure, charter_prompt.version_count) == ("chat", 1)
        original = project.prompts.get_version("forseti-persona-charter")
        restored = project.prompts.restore_version(charter_prompt.id, original.id)
        # Opik's restore is a new latest version that carries the old one's metadata.
        assert restored.id != original.id and restored.commit != original.commit
        assert restored.metadata == original.metadata
        assert project.prompts.get_version("forseti-persona-charter").id == restored.id
        assert project.prompts.list_prompts()["forseti-persona-charter"].version_count == 2
