"""The process-AGI script's call, built from its settings (a process per call: only what one
call needs is imported)."""

from __future__ import annotations

from ivr.db.database import Database, database_url
from ivr.engine.callstore import JournalStore
from ivr.engine.channel import CallInfo, Channel
from ivr.engine.menu import MenuEngine
from ivr.hotline import LiveCalls
from ivr.queuewait.script_hub import RecordedSurvey, ScriptHub
from ivr.queuewait.waiter import RedisQueueWaiter
from ivr.records.reserve import DatabaseTicketNumbers
from ivr.runtime import ConfigHolder
from ivr.settings import Settings
from queueing.queue import RedisQueue


async def run_process_call(
    settings: Settings, holder: ConfigHolder, channel: Channel, info: CallInfo
) -> None:
    """One call of the process-AGI script: the caller waits in the Redis queue as with a
    FastAGI server (music, position, callback offer, the operator's Dial, the survey), held by
    this process. The reaper runs here only while no server runs one; no event pump (events
    wait in Redis for the servers) and no closing of lost calls (the servers do that)."""
    bundle = holder.current
    queue = RedisQueue.from_url(settings.redis_url, bundle.queue.settings)
    hub = ScriptHub(queue)
    tracker = LiveCalls(queue, hub)  # the live-call registry, as on a server
    waiter = RedisQueueWaiter(
        hub,
        options=bundle.queue,
        prompt=bundle.prompt_path,
        pieces=bundle.prompt_pieces,
        record_calls=True,
        tickets=DatabaseTicketNumbers(
            Database(database_url(settings.var_dir)), bundle.hours.timezone
        ),
        tracker=tracker,
        survey=RecordedSurvey(),
    )
    await hub.start()
    try:
        engine = MenuEngine(
            bundle,
            queue,
            JournalStore(settings.journal),
            waiter=waiter,
            server=queue.server,
            tracker=tracker,
        )
        await engine.run(channel, info)
    finally:
        await hub.stop()
        await queue.close()
