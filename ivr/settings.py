"""Runtime settings, from the environment with embedded defaults (SQLite, local Redis)."""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _flag(text: str) -> bool:
    """An on/off environment setting: 1, true, yes, on (any case) are on."""
    return text.strip().lower() in {"1", "true", "yes", "on"}


def _words(text: str) -> tuple[str, ...]:
    """A list setting: words separated by commas or spaces."""
    return tuple(w for w in text.replace(",", " ").split() if w)


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    recordings_dir: Path
    var_dir: Path
    redis_url: str
    agi_host: str
    agi_port: int
    # Where Asterisk sees recordings_dir (prompts, messages, operator conversations), when it
    # runs on another host or in a container and mounts the shared storage elsewhere; None:
    # at the same path (one box, or the same mount point everywhere).
    asterisk_recordings_dir: Path | None = None
    # The web: a session cookie is Secure (sent over HTTPS only) when the hotline is served
    # behind TLS; a session ends session_hours after login, or after idle minutes without a
    # request; /metrics is open to Prometheus without a token unless metrics_public is off.
    cookie_secure: bool = False
    session_hours: float = 12.0
    session_idle_minutes: float = 120.0
    metrics_public: bool = True
    # The desks' browser phones: the SIP-over-WebSocket URL of Asterisk (wss://pbx:8089/ws
    # in a real deployment); "": ws:// on the desk's own host name, port 8088 (development).
    webrtc_ws_url: str = ""
    # Their STUN/TURN servers (a JSON list, ivr/web/ice_servers.py); "": none (one network).
    webrtc_ice_servers: str = ""
    # The citizens' pages (docs/citizen.md): a listener of their own, apart from the staff's
    # (None: not served unless `hotline serve --citizen-port`); behind a reverse proxy,
    # X-Forwarded-For is read only from citizen_proxies (addresses or networks); extra
    # allowed origins (https://12345.example.gov.cn) besides the page's own host; the limits.
    citizen_bind: str = "127.0.0.1"
    citizen_port: int | None = None
    citizen_proxies: tuple[str, ...] = ()
    citizen_origins: tuple[str, ...] = ()
    citizen_submits_per_address: int = 10  # per hour, per client address
    citizen_submits_per_phone: int = 5  # per day, per phone number
    citizen_lookups_per_address: int = 60  # per hour, per client address
    citizen_lookups_per_ticket: int = 10  # per hour, per ticket number asked

    @property
    def pidfile(self) -> Path:
        return self.var_dir / "hotline.pid"

    @property
    def reload_status(self) -> Path:
        return self.var_dir / "reload-status.json"

    @property
    def journal(self) -> Path:
        return self.var_dir / "calls.jsonl"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        root = Path(env("HOTLINE_HOME", str(PROJECT_ROOT)))
        return cls(
            config_dir=Path(env("HOTLINE_CONFIG_DIR", str(root / "config"))),
            recordings_dir=Path(env("HOTLINE_RECORDINGS_DIR", str(root / "recordings"))),
            var_dir=Path(env("HOTLINE_VAR_DIR", str(root / "var"))),
            redis_url=env("HOTLINE_REDIS_URL", "redis://127.0.0.1:6379/0"),
            agi_host=env("HOTLINE_AGI_HOST", "127.0.0.1"),
            agi_port=int(env("HOTLINE_AGI_PORT", "4573")),
            asterisk_recordings_dir=(
                Path(env("HOTLINE_ASTERISK_RECORDINGS_DIR", ""))
                if env("HOTLINE_ASTERISK_RECORDINGS_DIR")
                else None
            ),
            cookie_secure=_flag(env("HOTLINE_COOKIE_SECURE", "0")),
            session_hours=float(env("HOTLINE_SESSION_HOURS", "12")),
            session_idle_minutes=float(env("HOTLINE_SESSION_IDLE_MINUTES", "120")),
            metrics_public=_flag(env("HOTLINE_METRICS_PUBLIC", "1")),
            webrtc_ws_url=env("HOTLINE_WEBRTC_WS_URL", "").strip(),
            webrtc_ice_servers=env("HOTLINE_WEBRTC_ICE_SERVERS", ""),
            citizen_bind=env("HOTLINE_CITIZEN_BIND", "127.0.0.1"),
            citizen_port=int(env("HOTLINE_CITIZEN_PORT", ""))
            if env("HOTLINE_CITIZEN_PORT")
            else None,
            citizen_proxies=_words(env("HOTLINE_CITIZEN_PROXIES", "")),
            citizen_origins=_words(env("HOTLINE_CITIZEN_ORIGINS", "")),
            citizen_submits_per_address=int(env("HOTLINE_CITIZEN_SUBMITS_PER_ADDRESS", "10")),
            citizen_submits_per_phone=int(env("HOTLINE_CITIZEN_SUBMITS_PER_PHONE", "5")),
            citizen_lookups_per_address=int(env("HOTLINE_CITIZEN_LOOKUPS_PER_ADDRESS", "60")),
            citizen_lookups_per_ticket=int(env("HOTLINE_CITIZEN_LOOKUPS_PER_TICKET", "10")),
        )

    def local_path(self, path: str) -> str:
        """``path`` as this host sees it: a relative one (what call records store, e.g.
        ``messages/20261203/1.1.wav``) lies under recordings_dir."""
        if os.path.isabs(path):
            return path
        return os.path.join(self._recordings_root, path)

    @functools.cached_property
    def _recordings_root(self) -> str:
        """recordings_dir resolved, once (a realpath costs a stat per part, and every call
        asks): a symlink re-pointed while the server runs counts from its next start."""
        return str(self.recordings_dir.resolve())

    def recording_for_asterisk(self, path: str) -> str:
        """A recording's ``path`` (relative to recordings_dir, as call records store it) as
        Asterisk sees it. Its day folder is made here first: Asterisk's ``RECORD FILE`` does
        not create folders (MixMonitor does), and the recordings are shared with it."""
        local = self.local_path(path)
        folder = os.path.dirname(local)
        if not os.path.isdir(folder):  # one stat per call once the day's folder is there
            with contextlib.suppress(OSError):  # Asterisk then says it cannot write: logged
                os.makedirs(folder, exist_ok=True)
        return self.for_asterisk(local)

    def for_asterisk(self, path: str) -> str:
        """``path`` (a file under recordings_dir, as this host sees it) as Asterisk sees it;
        a relative path (Asterisk's own sounds, ``digits/5``) is left alone."""
        if self.asterisk_recordings_dir is None:
            return path
        for local in {str(self.recordings_dir), self._recordings_root}:
            if path == local or path.startswith(local.rstrip("/") + "/"):
                return str(self.asterisk_recordings_dir) + path[len(local.rstrip("/")) :]
        return path
