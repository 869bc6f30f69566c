"""The web chat's page, script, style sheet and widget, served as they are (no build step)."""
