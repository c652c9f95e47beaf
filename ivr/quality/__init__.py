"""Quality checks (质检): a supervisor listens to a recorded call and scores it on the form of
``config/quality.yaml`` (:mod:`ivr.config.quality`).

The form as the server has it, read again when the file changes (``forms.py``); the recorded
calls to score, the unchecked first (``listing.py``); a score checked against the form and
saved, one per call and reviewer, a re-score replacing it, every save audited
(``scoring.py``); the figures per operator that the web and the reports show (``summary.py``);
the errors with their HTTP status (``errors.py``, ``HL-QUA-nnn``).

Imports only the ground floor, the config (the form), the database (``ivr.db``) and the
accounts' audit log (``ivr.accounts``); it must not import the web, the reports, the records,
the tickets, the queue, the console or the CLI."""

from ivr.quality.errors import (
    CallNotFound,
    FilterInvalid,
    FormMissing,
    FormRefused,
    QualityError,
    ScoreInvalid,
)
from ivr.quality.forms import QualityForms
from ivr.quality.listing import CallToCheck, RecordedCallFilter, calls_to_check, parse_day
from ivr.quality.scoring import Check, ItemScore, Scoring
from ivr.quality.summary import ItemMean, OperatorQuality, operator_quality

__all__ = [
    "CallNotFound",
    "CallToCheck",
    "Check",
    "FilterInvalid",
    "FormMissing",
    "FormRefused",
    "ItemMean",
    "ItemScore",
    "OperatorQuality",
    "QualityError",
    "QualityForms",
    "RecordedCallFilter",
    "ScoreInvalid",
    "Scoring",
    "calls_to_check",
    "operator_quality",
    "parse_day",
]
