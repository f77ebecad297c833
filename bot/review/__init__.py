"""Reviewing tables afterwards: transcripts, exports, reports."""
