"""The caller's side of the operator queue: what drives a caller's channel while it waits.

- :mod:`.waiter`: the per-call waiter (music, position, callback offer, the hand-over to the
  operator), the menu engine's :class:`~ivr.engine.parts.QueueWaiter`;
- :mod:`.overflow`: the overflow actions of queue.yaml (widen, message, callback,
  transfer), the voice message, the widening of a caller held while the menu plays;
- :mod:`.bridge`: dialling the operator reserved for the caller, CONNECT, COMPLETE;
- :mod:`.queue_reload`: what of a reloaded queue.yaml reaches the running queue and hub at once.

It sits above the Redis queue (:mod:`queueing`, which it imports, and which never imports
it) and above the menu engine (:mod:`ivr.engine`: the channel, the call record, the
attempt). Must not import: ``ivr.hotline``, ``ivr.agi``, ``ivr.tickets``, ``ivr.web``,
``ivr.cli`` (the layers above, which hand it what it needs through small interfaces:
:class:`~.waiter.SurveySink`, :class:`~.bridge.TicketNumbers`).
"""
