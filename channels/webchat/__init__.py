"""The web chat channel: a page at `/chat`, an embeddable widget, and a WebSocket per browser
session that carries the customer's messages to the bot and the bot's replies and ticket status
changes back."""
