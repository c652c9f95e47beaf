"""Alembic environment: the engine is handed over by :func:`ivr.db.database.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from ivr.db.database import make_engine
from ivr.db.tables import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # run by the alembic command line: take the URL from the config
    url = config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url, or run `hotline db upgrade`"
    engine = make_engine(url)
assert isinstance(engine, Engine)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
