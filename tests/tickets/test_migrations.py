"""The models and the Alembic migrations describe the same schema, on both databases:
autogenerate's comparison of the models with a database upgraded to head finds nothing."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from ivr.db import (  # noqa: F401 (their rows on the metadata)
    config_tables,
    outbox_tables,
    quality_tables,
)
from ivr.db.addresses import normalise_address
from ivr.db.database import Database, _alembic_config, current_revision, head_revision, upgrade
from ivr.db.knowledge_tables import modelled
from ivr.db.tables import Base, TicketRow
from ivr.tickets.service import TicketService


def _diff(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "compare_server_default": True, "include_name": modelled},
        )
        return list(compare_metadata(context, Base.metadata))


def test_models_match_migrations(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()
    assert _diff(db) == []
    names = {
        ix["name"] for ix in __import__("sqlalchemy").inspect(db.engine).get_indexes("tickets")
    }
    assert {"ix_tickets_report", "ix_tickets_flags", "ix_tickets_satisfaction"} <= names


def test_a_drift_is_seen(db: Database) -> None:
    """The check is not blind: an index the models do not have is reported."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_extra ON tickets (content)")
    diff = _diff(db)
    assert [d[0] for d in diff] == ["remove_index"]
    assert diff[0][1].name == "ix_extra"


def test_downgrade_and_upgrade_again(db: Database) -> None:

    command.downgrade(_alembic_config(db.engine), "0001")
    assert current_revision(db.engine) == "0001"
    assert upgrade(db.engine) == head_revision()
    assert _diff(db) == []


def test_0011_fills_the_normalised_address_of_the_tickets_there(
    db: Database, service: TicketService
) -> None:
    """Tickets written before revision 0011 get their ``address_norm`` from it (in batches),
    so that the inbox finds their duplicates as it finds the new ones'."""
    addresses = ["新城区　海拉尔东路 １２号 Ａ座", "", "回民区中山西路8号"]
    numbers = [
        service.accept(caller=f"1390000000{n}", type="help", category="housing.property",
                       actor="t", address=a).number
        for n, a in enumerate(addresses)
    ]  # fmt: skip
    command.downgrade(_alembic_config(db.engine), "0010")
    assert upgrade(db.engine) == head_revision()
    with db.session() as s:
        rows = s.execute(
            select(TicketRow.number, TicketRow.address_norm).where(TicketRow.number.in_(numbers))
        ).all()
    assert dict(rows) == dict(zip(numbers, map(normalise_address, addresses), strict=True))
    assert dict(rows)[numbers[0]] == "新城区海拉尔东路12号a座"
