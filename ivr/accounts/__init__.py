"""The accounts room: who may use the web desk and the API. Users and their roles
(``model.py``), passwords hashed with argon2, sessions and API tokens of which only the sha256
is stored, the login throttle kept in the database (so that several servers share it), and the
audit log of every change (``service.py``: :class:`Accounts`, synchronous; the web calls it in
a thread); its errors with their HTTP status (``errors.py``).

Imports only the ground floor (``ivr.errors``) and the database (``ivr.db``); it must not
import the web, the console or cli, the tickets, the records or the queue."""
