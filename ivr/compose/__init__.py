"""The composition root: the one room that builds a running hotline from its settings.

- :func:`.root.start_server` builds what ``hotline serve`` runs: the config holder, the
  Redis queue and its hub, the call-record store with its upkeep (:func:`.root.open_records`),
  the ticket numbers, the caller's waiter, the FastAGI server and (with a port) the HTTP app;
  :class:`.root.RunningServer` announces it and takes it down gracefully.
- :func:`.transfers.open_transfers` builds the desk's transfer service from queue.yaml (its
  targets, the AMI user of ``dialler``) for the HTTP app's transfer routes.
- :func:`.script.run_process_call` builds what the process-AGI script runs for one call (the
  same engine and waiter over pyst2, with the script's hub and a journal for its record).

The CLI (:mod:`ivr.cli`) and the script's entry (:mod:`ivr.process_agi`) only parse their
input and call these; no room below builds another. The two modules are apart so that the
script (a process per call) imports only what one call needs: no HTTP app, no ticket service.

Imports the rooms below it, the ones it builds. Must not import the entries that call it
(``ivr.cli``, ``ivr.process_agi``), the console, nor the development aids (``ivr.devtools``).
"""
