"""Helpers the tests run as real processes (each also importable)."""
