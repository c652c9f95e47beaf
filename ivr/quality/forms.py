"""The quality form as the running server has it: ``quality.yaml`` read again when it changes
on disk (an admin's save in the browser, an edit on the server), a refused file answered with
its problems rather than an older form."""

from __future__ import annotations

import threading
from pathlib import Path

from ivr.config.quality import QUALITY_FILE, QualityForm, load_quality_form
from ivr.errors import ConfigError
from ivr.quality.errors import FormMissing, FormRefused


class QualityForms:
    """``current()``: the form of ``directory/quality.yaml``, read once per change of the
    file (its modification time and size)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / QUALITY_FILE
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._form: QualityForm | None = None
        self._refused: str | None = None

    def current(self) -> QualityForm:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise FormMissing(
                f"quality checks are off: there is no {self.path} (docs/admin-config.md)"
            ) from None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._seen:
                self._seen, self._form, self._refused = stamp, None, None
                try:
                    self._form = load_quality_form(self.path.parent)
                except ConfigError as exc:
                    first = exc.problems[0] if exc.problems else ""
                    self._refused = (
                        f"{self.path} has {len(exc.problems)} problem(s), first {first}; "
                        "run hotline check-config"
                    )
            if self._refused is not None:
                raise FormRefused(self._refused)
            if self._form is None:
                raise FormMissing(f"quality checks are off: there is no {self.path}")
            return self._form
