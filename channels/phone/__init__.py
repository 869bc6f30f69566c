"""The phone channel: call transcripts (`POST /v1/transcripts`) as JSON segments, plain text,
WebVTT or SRT, understood as one request and turned into a ticket or an answered conversation."""
