"""The knowledge base domain of the HTTP service: search route and start-up."""
