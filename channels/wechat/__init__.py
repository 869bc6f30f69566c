"""WeChat Official Account channel: server URL at `/channels/wechat` (plain and safe mode)."""
