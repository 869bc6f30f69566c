"""Fixtures of the alarm tests: the asset tests' service (a database holding the test KB), and
the channel tests' stand-ins of WeChat and Telegram for the customer notices."""

from __future__ import annotations

from tests.channels.conftest import (  # noqa: F401  (fixtures)
    aes_key,
    bot_api,
    channel_settings,
    trained_nlu,
    wechat_api,
)
from tests.intake_api.assets.conftest import base_url  # noqa: F401  (the same service)
