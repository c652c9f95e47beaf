"""Items forwarded by upper-level platforms (人民网领导留言板, 省长信箱, ...): what an item is
(``item.py``), reading a batch of them from JSON or CSV with an error per row (``parse.py``),
and taking a batch as tickets, once per source and external id, dispatched by the catalogue's
dispatch map as a phone ticket would be (``importer.py``). The API route is
``ivr/web/intake_routes.py``, the command ``ivr/console/import_cli.py``.

Imports the ground floor, the config, ``ivr/db/``, the tickets and the accounts' audit log;
it must not import the web, the console or the composition root above it."""
