"""``hotline serve``: the server built from its settings, and its graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from ivr import logfmt, runinfo
from ivr.accounts import Accounts
from ivr.agi.server import FastAGIServer
from ivr.citizen.guard import networks
from ivr.compose.browser_phones import browser_phones, watch_phones
from ivr.compose.citizen import citizen_app
from ivr.compose.config_sharing import follow_saves
from ivr.compose.heap import HeapTrimmer
from ivr.compose.transfers import close_transfers, open_manager, open_transfers
from ivr.config.catalogue import load_catalogue
from ivr.configsync.follower import ConfigFollower
from ivr.db.database import Database, database_url
from ivr.errors import ConfigError
from ivr.hotline import HeldSurveys, HotlineService, LiveCalls
from ivr.hotspots.refresh import HotspotRefresher
from ivr.knowledge import KnowledgeBase
from ivr.knowledge.segment import use_cache_dir
from ivr.notify import OutboxNotices
from ivr.notify.delivery import DeliveryLoop
from ivr.privacy.daily import DailyPurge
from ivr.privacy.purge import Purger
from ivr.quality import QualityForms
from ivr.queuewait.queue_reload import apply_queue_reload
from ivr.queuewait.waiter import RedisQueueWaiter
from ivr.records.entries import is_unavailable
from ivr.records.keeper import RecordKeeper
from ivr.records.store import CallRecordStore
from ivr.records.ticketno import RedisTicketNumbers
from ivr.runtime import ConfigHolder
from ivr.settings import Settings
from ivr.tickets.deadlines import Deadlines, calendar_from_config
from ivr.tickets.recalendar import install_calendar
from ivr.tickets.service import TicketService
from ivr.web import create_app
from ivr.web.appkeys import WebSecurity
from ivr.web.call_routes import calls_part
from ivr.web.callback_routes import callbacks_part
from ivr.web.config_routes import config_part
from ivr.web.desk_socket import DeskHub
from ivr.web.inbox_routes import inbox_part
from ivr.web.intake_routes import intake_part
from ivr.web.knowledge_routes import knowledge_part
from ivr.web.phone_routes import phone_part
from ivr.web.portal_routes import portal_part
from ivr.web.quality_routes import quality_part
from ivr.web.recording_routes import recordings_part
from ivr.web.report_routes import reports_part
from ivr.web.screenpop import ScreenPops
from ivr.web.spy_routes import spy_part
from ivr.web.supervision_routes import supervision_part
from ivr.web.ticket_routes import tickets_part
from ivr.web.user_routes import users_part
from ivr.web.wallboard import Wallboard
from ivr.web.wallboard_routes import WallboardHub, wallboard_part
from queueing.ami import SECRET_FILE as AMI_SECRET_FILE
from queueing.callback import CallbackDialler
from queueing.events import QueueLogFileSink, TeeSink
from queueing.hub import QueueHub
from queueing.notices import NoticeSubscriber
from queueing.queue import RedisQueue

log = logging.getLogger(__name__)

#: A stop waits at most this long for open HTTP requests (aiohttp's default is 60 s, which a
#: supervisor's restart would wait out).
HTTP_SHUTDOWN_SECONDS = 5.0


async def open_records(
    settings: Settings, config_dir: Path, timezone: str, holder: ConfigHolder | None = None
) -> RecordKeeper:
    """The database side of a server: migrate (a database away at start is logged and the
    calls' records wait in the journal), the call-record store, the ticket sweeper (none when
    the catalogue is refused; with ``holder``, its tickets write their SMS and replies to the
    outbox as notify.yaml says), the import of the process scripts' journal."""
    db = Database(database_url(settings.var_dir))
    try:
        revision = await asyncio.to_thread(db.upgrade)
        log.info("database %s at revision %s", db.safe_url, revision)
    except DBAPIError as exc:
        if not is_unavailable(exc):
            raise
        # Calls are still served: their records wait in the journal for the database.
        log.error("[HL-SRV-001] database %s unreachable at start: %s", db.safe_url, exc.orig)
    store = CallRecordStore(db, settings.var_dir / "tickets-journal.jsonl", timezone=timezone)
    await store.start()
    sweeper: TicketService | None = None
    try:
        catalogue = load_catalogue(config_dir)
        notices = None
        if holder is not None:
            running = holder  # the notify.yaml of the running config, reloads included
            notices = OutboxNotices(lambda: running.current.notify, lambda: catalogue.sources)
        deadlines = Deadlines(calendar_from_config(config_dir))
        sweeper = TicketService(db, catalogue, deadlines, notices=notices)
    except ConfigError as exc:
        log.error("[HL-SRV-002] ticket catalogue refused, no sweep: %s", exc)
    return RecordKeeper(store, sweeper, settings.journal)


@dataclass
class RunningServer:
    """What :func:`start_server` built, and its graceful stop."""

    settings: Settings
    holder: ConfigHolder
    queue: RedisQueue
    records: RecordKeeper
    hub: QueueHub
    numbers: RedisTicketNumbers
    service: HotlineService
    server: FastAGIServer
    runner: web.AppRunner | None
    http_port: int | None
    purge: DailyPurge | None = None
    citizen: web.AppRunner | None = None  # the citizens' pages, on a listener of their own
    delivery: DeliveryLoop | None = None
    hotspots: HotspotRefresher | None = None
    saves: ConfigFollower | None = None  # the admin console's saves of every server
    heap: HeapTrimmer | None = None  # freed heap pages handed back every minute

    @property
    def agi_url(self) -> str:
        return f"agi://{self.settings.agi_host}:{self.server.port}/hotline"

    def announce(self) -> None:
        """The pid file and the running-server note other commands read (``hotline asterisk
        reload`` / ``asterisk-conf`` generate the dialplan for it)."""
        self.settings.pidfile.write_text(str(os.getpid()))
        runinfo.write(
            self.settings,
            runinfo.ServerInfo(
                os.getpid(),
                self.agi_url,
                self.http_port,
                self.settings.redis_url,
                os.environ.get("HOTLINE_DATABASE_URL") or None,
            ),
        )

    def stop_accepting(self) -> None:
        self.server.stop_accepting()

    async def drain(self, menu_grace: float) -> None:
        """Waiting callers go back to the dialplan with their places, callers in the menu get
        ``menu_grace``, callers with an operator or in the survey finish."""
        await self.service.stop(menu_grace=menu_grace)

    async def close(self, drained: bool) -> None:
        await self.server.stop(grace=5.0 if drained else 0.0)
        if self.purge is not None:
            await self.purge.stop()
        if self.delivery is not None:
            await self.delivery.stop()
        if self.hotspots is not None:
            await self.hotspots.stop()
        if self.saves is not None:
            await self.saves.stop()
        if self.heap is not None:
            await self.heap.stop()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.citizen is not None:
            await self.citizen.cleanup()
        await self.hub.stop()
        await self.numbers.close()
        await self.queue.close()
        await self.records.close()
        runinfo.remove(self.settings)
        with contextlib.suppress(FileNotFoundError):
            self.settings.pidfile.unlink()


def web_app(
    settings: Settings,
    holder: ConfigHolder,
    queue: RedisQueue,
    records: RecordKeeper,
    numbers: RedisTicketNumbers,
    dialler: CallbackDialler | None,
    saves: ConfigFollower,
) -> web.Application:
    """The staff's HTTP app (``hotline serve --http-port``) with every part of the API."""
    db = records.store.db
    accounts = Accounts(
        db,
        session_hours=settings.session_hours,
        idle_minutes=settings.session_idle_minutes,
    )
    security = WebSecurity(
        cookie_secure=settings.cookie_secure,
        session_hours=settings.session_hours,
        metrics_public=settings.metrics_public,
    )
    # the desks' live notices: one subscriber per server, screen-pops built here
    desks = DeskHub(
        NoticeSubscriber(settings.redis_url, queue.centre),
        ScreenPops(
            queue.client,
            db,
            centre=queue.centre,
            tickets=numbers,
            config=lambda: holder.current,
        ),
        queue,
        pause_reasons=lambda: dict(holder.current.queue.settings.pause_reasons),
    )
    # the knowledge base: jieba's dictionary cache in var/; department names from the catalogue
    use_cache_dir(settings.var_dir)
    catalogue = records.sweeper.catalogue if records.sweeper is not None else None
    departments = {c: d.name for c, d in catalogue.departments.items()} if catalogue else {}
    # transfers through Asterisk AMI (queue.yaml transfers + dialler; None: off, 503)
    transfers = open_transfers(
        queue, lambda: holder.current.queue, settings.var_dir / AMI_SECRET_FILE
    )
    # the supervisors' listen / whisper / barge (ChanSpy on their phones of agents.yaml)
    spy_ami = open_manager(holder.current.queue, settings.var_dir / AMI_SECRET_FILE)
    # the supervisors' wallboard: a board a second, and at once on every queue notice
    wallboard = WallboardHub(Wallboard(queue, db))
    desks.listeners.append(wallboard.poke)
    # the desk's ticket form: on the catalogue read at start (None: refused, HL-WEB-011);
    # its callback tasks, click-to-call through this server's callback dialler (if on)
    parts = [
        tickets_part(lambda: records.sweeper, numbers),
        intake_part(lambda: records.sweeper),  # items forwarded by upper-level platforms
        callbacks_part(lambda: dialler),
        inbox_part(),  # the operators' inbox: web requests, forwarded items (待办受理)
        portal_part(),  # the departments' tickets
        supervision_part(),  # the supervisors' review of tickets
        wallboard_part(wallboard),
        knowledge_part(KnowledgeBase(db, departments)),  # 常用提示
        users_part(),  # the admin console's accounts
        reports_part(settings.var_dir / "reports" / "web"),  # made when asked
        quality_part(QualityForms(holder.directory).current),  # 质检: on config/quality.yaml
        calls_part(transfers),  # the desk's transfers (emergency, departments, colleagues)
        spy_part(lambda: spy_ami),  # the wallboard's listen / whisper / barge
        # recordings played in the browser, by the roles of privacy.yaml, audited
        recordings_part(settings.recordings_dir, lambda: holder.current.privacy.playback),
        phone_part(browser_phones(settings)),  # the desk's browser phone (docs/webrtc.md)
        # the admin console's editing of the admin files: checked, kept, reloaded here and
        # recorded for the other servers (docs/scale-out.md)
        config_part(saves.editor, holder.reload_async, saves),
    ]
    app = create_app(queue, lambda: holder.current.agents, accounts, db, security, desks, parts)

    async def stop_transfers(_: web.Application) -> None:
        await close_transfers(transfers)  # the originates under way, the AMI connection
        if spy_ami is not None:
            await spy_ami.close()

    app.on_cleanup.append(stop_transfers)
    # browser phones that stay unregistered: their agents paused "phone offline" (webrtc.md)
    watch_phones(app, holder, queue, accounts, settings.var_dir / AMI_SECRET_FILE)
    return app


async def start_server(
    settings: Settings,
    config_dir: Path,
    http_port: int | None = None,
    wait: bool = False,
    citizen_port: int | None = None,
) -> RunningServer:
    """Build and start ``hotline serve``: raises ConfigError for a refused config, and
    HotlineError for a refused citizens' setting (before anything starts)."""
    if citizen_port is not None:
        networks(settings.citizen_proxies)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    browser_phones(
        settings
    )  # HL-SRV-015: a wrong HOTLINE_WEBRTC_ICE_SERVERS, before anything starts
    holder = ConfigHolder(config_dir, settings.recordings_dir, settings.reload_status)
    logfmt.set_zone(holder.current.hours.timezone)  # log lines in the centre's zone
    # a reload applies queue.yaml (ivr.queuewait.queue_reload) and agents.yaml, like the menu
    queue = RedisQueue.from_url(settings.redis_url, holder.current.queue.settings)
    records = await open_records(settings, config_dir, holder.current.hours.timezone, holder)
    records.start_sweeping()
    install_calendar(holder, records.store.db)  # HL-CFG-096 at start; reload recomputes deadlines
    # Queue events go to the database, and to a queue_log file for tools that read one.
    sink = TeeSink(records.store, QueueLogFileSink(settings.var_dir / "queue_log"))
    options = holder.current.queue
    # callbacks are dialled through Asterisk AMI by every server whose queue.yaml enables it
    # (AMI secret: dialler.secret, else the local Asterisk's var/ami-secret; while Asterisk is
    # away the dialler logs it and retries, and callbacks keep their place)
    dialler = (
        CallbackDialler(queue, options.dialler, secret_file=settings.var_dir / AMI_SECRET_FILE)
        if options.dialler.enabled
        else None
    )
    # a call whose server died and which did not come back is closed by whichever server's
    # reaper finds it first: a `server-lost` record from what Redis knew of it
    hub = QueueHub(queue, sink, dialler=dialler, on_lost=records.store.lost)
    holder.listeners.append(lambda old, new: apply_queue_reload(queue, hub, old.queue, new.queue))
    await hub.start()
    # the admin console's saves taken by any server, caught up now and followed (scale-out.md)
    saves = await follow_saves(settings, holder, queue, records.store.db, http_port or 0)
    surveys = HeldSurveys(records.store)
    tracker = LiveCalls(queue, hub)  # the live-call registry: every session while it runs
    # ticket numbers for HOTLINE_TICKET from Redis (blocks claimed from the database ahead of
    # time): no caller waits on the database
    numbers = RedisTicketNumbers(
        queue.client, records.store, centre=queue.centre, timezone=holder.current.hours.timezone
    )
    numbers.start()
    waiter = RedisQueueWaiter(
        hub,
        options=lambda: holder.current.queue,
        survey=surveys,
        prompt=lambda name: holder.current.prompt_path(name),
        pieces=lambda name: holder.current.prompt_pieces(name),
        record_calls=True,
        tickets=numbers,
        tracker=tracker,
    )
    service = HotlineService(
        holder,
        queue,
        records.store,
        records.store,
        waiter=waiter if wait else None,
        surveys=surveys if wait else None,
        answered=hub.answered,
        tracker=tracker,
        paths=settings.for_asterisk,
        recordings=settings.recording_for_asterisk,
    )
    server = FastAGIServer(service.handle, settings.agi_host, settings.agi_port)
    await server.start()
    runner: web.AppRunner | None = None
    if http_port is not None:
        app = web_app(settings, holder, queue, records, numbers, dialler, saves)
        runner = web.AppRunner(app, shutdown_timeout=HTTP_SHUTDOWN_SECONDS)
        await runner.setup()
        await web.TCPSite(runner, settings.agi_host, http_port).start()
    citizen: web.AppRunner | None = None
    if citizen_port is not None:  # apart from the staff's: only the citizens' routes
        citizen = web.AppRunner(
            citizen_app(settings, queue, records), shutdown_timeout=HTTP_SHUTDOWN_SECONDS
        )
        await citizen.setup()
        await web.TCPSite(citizen, settings.citizen_bind, citizen_port).start()
    # the retention purge of privacy.yaml, once a day (one server a day: a Redis key)
    purge = DailyPurge(
        Purger(records.store.db, settings.recordings_dir),
        lambda: (holder.current.privacy.retention, holder.current.hours.timezone),
        queue.client,
        queue.centre,
    )
    purge.start()
    # the outbox's SMS and replies to upper-level platforms (notify.yaml; docs/notify.md):
    # every server sends, claiming rows so that none goes twice
    delivery = DeliveryLoop(
        records.store.db,
        lambda: holder.current.notify,
        lambda: records.sweeper.catalogue.sources if records.sweeper is not None else {},
        settings.var_dir,
        lambda: holder.current.hours.timezone,
    )
    delivery.start()
    # the hot issues (热点诉求) for the wallboard, every refresh_minutes (docs/hotspots.md)
    sweeper = records.sweeper
    hotspots = HotspotRefresher(
        records.store.db,
        lambda: (sweeper.catalogue if sweeper else None, holder.current.hours.timezone),
        queue.client,
        queue.centre,
    )
    hotspots.start()
    heap = HeapTrimmer()
    heap.start()
    return RunningServer(
        settings, holder, queue, records, hub, numbers, service, server, runner, http_port,
        purge, citizen, delivery, hotspots, saves, heap,
    )  # fmt: skip
