"""The phone channel's adapter: call transcripts as JSON segments, plain text, WebVTT or SRT,
read into one `Transcript` (what a call makes is the service's calls domain)."""
