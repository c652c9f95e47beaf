"""Alembic environment: the engine is handed over by :func:`ivr.db.database.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from ivr.db import (  # noqa: F401 (their rows on the metadata)
    config_tables,
    outbox_tables,
    publication_tables,
    quality_tables,
)
from ivr.db.database import make_engine
from ivr.db.knowledge_tables import modelled
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
        include_name=modelled,  # the knowledge base's full-text index is not in the models
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
