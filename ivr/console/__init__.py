"""The console: the ``hotline`` subcommands of the database, the reports, tickets, callbacks
and calls (``data_cli.py`` registers them all), with what they share (``cli_common.py``:
the database and service from the command line, the acting name, one-line refusals).

Above everything it drives (``ivr.db``, ``ivr.records``, ``ivr.tickets``, ``ivr.reports``,
``ivr.devtools`` for ``seed-demo``); imported only by :mod:`ivr.cli`."""
