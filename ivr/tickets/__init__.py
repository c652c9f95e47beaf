"""Tickets (工单): the ticket lifecycle and its service, deadlines (and their recount when the
calendar changes), supervision, ticket numbers, Beijing time and Chinese words for people.

Imports :mod:`ivr.db`, :mod:`ivr.config` (the catalogue, the calendar) and :mod:`ivr.runtime`.
Must not import how calls are recorded (``ivr.records``, above it: a call's row knows the
ticket, not the other way), the engine, the queue (``queueing``), the web, the reports or the
CLI."""
