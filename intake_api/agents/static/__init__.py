"""The agent console page (HTML, script, style), shipped in the package."""
