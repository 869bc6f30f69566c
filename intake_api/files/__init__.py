"""Customers' files: photos, voice notes and documents that came with their messages.

Checked from their bytes (type, size; images decoded and re-encoded without EXIF/GPS), stored
by content hash (`store.py`), recorded beside the message they came with (`models.py`,
`service.py`), served only with a signed, expiring URL or an agent's key (`signing.py`,
`views.py`), and deleted after the retention period or with their conversation.
"""
