"""The negotiation rules: a pure package (no discord, no aiosqlite).

Commands in, events out; a table's state is rebuilt by applying its events.
"""
