"""Errors of the quality checks (``HL-QUA-nnn``, docs/errors.md), each with the HTTP status
the web answers it with."""

from __future__ import annotations

from ivr.errors import HotlineError


class QualityError(HotlineError):
    """Base of the quality checks' errors."""

    code = "HL-QUA-010"
    status: int = 400


class FormMissing(QualityError):
    """There is no form to score on: the config has no ``quality.yaml``."""

    code = "HL-QUA-011"
    status = 409


class FormRefused(QualityError):
    """``quality.yaml`` has problems (``hotline check-config`` lists them)."""

    code = "HL-QUA-012"
    status = 409


class CallNotFound(QualityError):
    """No answered call with a recording by that uniqueid: nothing to score."""

    code = "HL-QUA-013"
    status = 404


class ScoreInvalid(QualityError):
    """A score that does not fit the form: an item missing or unknown, points out of
    0..max, a comment too long."""

    code = "HL-QUA-014"
    status = 400


class FilterInvalid(QualityError):
    """A list asked with a bad filter: a day that is not YYYY-MM-DD, a range ending before it
    starts, a limit out of range, an agent id too long."""

    code = "HL-QUA-015"
    status = 400
