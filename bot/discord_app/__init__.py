"""Parley on Discord: slash commands, buttons, rooms and the clock over the service."""
