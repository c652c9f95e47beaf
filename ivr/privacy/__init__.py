"""Privacy: the recordings' files found safely under the recordings root (``files.py``), the
retention purge of recordings, call records and closed tickets (``purge.py``, its batches of
rows in ``purge_rows.py``) and its daily run inside ``hotline serve`` (``daily.py``). Who may
play a recording is ``config/privacy.yaml`` (:mod:`ivr.config.privacy_models`); the playback
route is :mod:`ivr.web.recording_routes`.

Imports the ground floor, ``ivr.config``, ``ivr.db``, ``ivr.accounts`` (the audit log) and
``ivr.tickets`` (which states are closed), and ``queueing.keys`` (the daily key). Must not
import the web, the records' store, the queue's client, the composition root or the console."""
