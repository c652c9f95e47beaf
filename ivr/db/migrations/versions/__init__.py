"""Alembic revisions, one schema step each (``NNNN_what.py``).

A revision imports nothing of the hotline, only Alembic and SQLAlchemy: it must not import
today's rows (``ivr.db.tables``), since it describes the schema as it was at its step."""
