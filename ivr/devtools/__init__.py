"""Development aids, apart from the product: generated demonstration traffic
(``hotline seed-demo``: :mod:`.demo`, its calls in :mod:`.demo_calls`, its tickets in
:mod:`.demo_tickets`, seed 004's profile in :mod:`.seed004`), a throwaway PostgreSQL for
tests and benchmarks (:mod:`.pgtemp`), a local Redis Cluster (:mod:`.redis_cluster`) and the
whole scale-out set on one machine (:mod:`.local_cluster`, its processes in
:mod:`.cluster_parts`).

Imports what it fills (``ivr.db``, ``ivr.records``, ``ivr.tickets``, ``ivr.reports``,
``ivr.config``; the local set starts ``ivr.asterisk``'s Asterisk and Kamailio). It must not
import the console, the composition root or the CLI above it; and the running hotline never
imports this package (``tests/test_layers.py`` checks)."""
