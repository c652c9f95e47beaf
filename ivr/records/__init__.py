"""Call records: one row per call (``call_records``) merged from its attempts
(``call_attempts``, one per hotline server that held the call), the queue's events
(``queue_log`` rows), the tasks calls leave (voice messages, missed calls, promised callbacks),
written in group commits with a journal while the database is away, and the ticket numbers
reserved for calls (from Redis, in blocks claimed from the database). Also the queries and the
``hotline calls`` console that find a call.

Imports the ground floor, the engine's call record (``ivr.engine.record``), ``ivr.db`` and the
ticket lifecycle's words and numbering (``ivr.tickets``). Must not import the web, the reports
or the CLI."""
