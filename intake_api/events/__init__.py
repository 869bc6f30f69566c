"""Real-time ticket status: an event bus (in-process or Redis) and SSE / WebSocket streams."""
