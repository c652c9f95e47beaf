"""The admin console's saves on every hotline server (docs/scale-out.md, several hotline
servers): the saves kept in the database (``saves.py``), and each server's follower that takes
the newer ones, checks them as a save is checked, writes them to its own config directory and
reloads, on a Redis notice and at its start (``follower.py``).

Imports the ground floor, the config (its editor), ``ivr.db``, ``ivr.runtime``'s reload result
and ``queueing``'s key names and subscriber; must not import the web, the server or anything
above it (the web and the composition root use it)."""
