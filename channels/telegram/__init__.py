"""Telegram channel: webhook at `/channels/telegram/webhook`, or long polling without one."""
