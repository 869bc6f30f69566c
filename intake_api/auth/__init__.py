"""API keys with scopes: who may call the intake API, and for what."""
