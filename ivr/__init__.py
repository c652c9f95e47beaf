"""The 12345 citizen-service hotline application: its rooms, floor by floor, are drawn in
docs/architecture.md. Here sit the ground floor's modules (``errors``, ``settings``,
``logfmt``, ``runinfo``), the running config (``runtime``), the prompts, what runs for each
call (``service``) and the entries (``cli``, ``process_agi``); the rest are packages.

The package itself imports nothing (it holds the version only): importing one room must not
import the others."""

__version__ = "0.1.0"
