"""Request limits: body size (413) and rate limits per API key and per sender (429)."""
