"""Inbound customer messages: stored first, answered by the bot, never answered twice."""
