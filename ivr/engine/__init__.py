"""The menu engine: one async script, independent of the transport.

It reads the config (:mod:`ivr.config`) and the queue's values (:mod:`queueing`). Must not
import: the caller's side of the queue (``ivr.queuewait``, handed in as a ``QueueWaiter``),
the transports (``ivr.agi``, ``ivr.process_agi``), ``ivr.hotline``, ``ivr.tickets``,
``ivr.web``, ``ivr.cli``.
"""
