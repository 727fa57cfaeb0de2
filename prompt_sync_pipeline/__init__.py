"""prompt-sync: keeps a team's prompt templates in git and in Opik in step, both ways."""
