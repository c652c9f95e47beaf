"""The Redis operator queue: callers waiting per skill, agents with skills and states, the
assignment in Lua, the per-process hub (offers, leases, reaper), the event pump, the
callback dialler over AMI.

It is the lowest package of the hotline. Must not import: anything of ``ivr`` (at module
level or inside a function; ``tests/test_layers.py`` checks). What it reads of the admin
config is declared in :mod:`queueing.options` and handed in by ``ivr``; the error base every
hotline error derives from is :mod:`queueing.errors`. The caller's side (the per-call waiter
that drives a channel) is ``ivr.queuewait``, above it.
"""
