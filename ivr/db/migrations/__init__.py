"""Alembic migrations of the ticket database (run by ``hotline db upgrade``): Alembic's
environment (``env.py``) and the revisions (``versions/``).

The environment imports only :mod:`ivr.db` (the engine and the rows' metadata); it must not
import the rooms that use the database."""
