"""Alembic migrations of the ticket database (run by ``hotline db upgrade``)."""
