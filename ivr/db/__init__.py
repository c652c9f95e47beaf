"""The database room: the connection (SQLite embedded, PostgreSQL for several servers), the
ORM rows of every table, the Alembic migrations, small SQL helpers, and the database's errors.

It holds the record; Redis holds live state. Imports only the ground floor (``ivr.errors``,
``ivr.settings``); it must not import the rooms that use it (records, tickets, reports, web,
cli)."""
