"""The console: the ``hotline`` subcommands of the database, the reports, tickets, callbacks
and calls (``data_cli.py`` registers them), with what they share (``cli_common.py``: the
database and service from the command line, the acting name, one-line refusals); the queue
(``queue_cli.py``), the local Asterisk and its config (``asterisk_cli.py``), backup and
restore (``backup_cli.py``).

Above everything it drives (``ivr.db``, ``ivr.records``, ``ivr.tickets``, ``ivr.reports``,
``ivr.asterisk``, ``ivr.backup``, ``queueing``, ``ivr.devtools`` for ``seed-demo``);
imported only by :mod:`ivr.cli`, which it must not import (nor :mod:`ivr.process_agi`)."""
