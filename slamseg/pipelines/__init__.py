"""The user's jobs as functions (the CLI commands are thin wrappers around these)."""
