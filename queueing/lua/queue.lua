-- The operator queue: every operation that touches several keys, atomic, one round trip.
-- Key names come from queueing/keys.py (LUA_PRELUDE, prepended when the script is loaded).
-- KEYS[1] events stream; ARGV[1] key prefix, ARGV[2] operation, ARGV[3] now (epoch ms),
-- ARGV[4] today (YYYY-MM-DD, local), ARGV[5..] the operation's arguments.
-- Errors are returned as "HL-QUE-nnn message" error replies. Any other reply is
-- {events, result}: every event the operation appended to the stream, in one string (one
-- string is much cheaper for the client to read than six per event): events separated by
-- \30, each stream id, callid, queue, agent, event, data separated by \31; their time is
-- ``now``. The server keeps them in its journal until the event sink has them (Redis may
-- forget them).
--
-- Invariant kept by every operation: for every skill, the waiting set and the ready set are
-- never both non-empty (a match is assigned at once, in the operation that made it possible).

local op = ARGV[2]
local now = tonumber(ARGV[3])
local day = ARGV[4]
local A = {}
for i = 5, #ARGV do A[#A + 1] = ARGV[i] end

local EVENTS_MAX = 200000
local STATS_TTL = 3 * 86400

-- Numbers as integer strings. ``now`` is formatted once per call: string.format is one of
-- the dearest things a script does, and most operations write ``now`` several times.
local NOW_S = string.format('%.0f', now)
local function S(x)
  if x == now then return NOW_S end
  return string.format('%.0f', x)
end

local function fail(code, msg) return redis.error_reply(code .. ' ' .. msg) end

local EV = {}
local function emit(callid, queue, agent, event, ...)
  local parts = {...}
  for i = 1, #parts do parts[i] = tostring(parts[i]) end
  local data = table.concat(parts, '|')
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', EVENTS_MAX, '*', 'at', NOW_S,
    'callid', callid, 'queue', queue, 'agent', agent, 'event', event, 'data', data)
  EV[#EV + 1] = table.concat({id, callid, queue, agent, event, data}, '\31')
end

-- A live notice on the centre's pub/sub channel (queueing/notices.py), published in the step
-- that made the change, so that no notice is missed between the change and its publication:
-- kind, now, agent, uniqueid and up to three more fields, separated by TAB. Kinds: offer
-- (skill, caller, entry kind), offer-ended (why, detail), connected, agent (state, reason).
-- With no subscriber a PUBLISH costs about a microsecond.
local function notice(kind, id, uid, a, b, c)
  redis.call('PUBLISH', K.notices(), kind .. '\t' .. NOW_S .. '\t' .. id .. '\t' .. uid .. '\t'
    .. (a or '') .. '\t' .. (b or '') .. '\t' .. (c or ''))
end

-- Today's counter ``skill:field`` += n. The day's hash expires after STATS_TTL; the expiry
-- is set when a counter is created (its new value is n), not on every increment.
local function stat(skill, field, n)
  local key = K.stats(day)
  if redis.call('HINCRBY', key, skill .. ':' .. field, n) == n then
    redis.call('EXPIRE', key, STATS_TTL)
  end
end

-- agents -------------------------------------------------------------------------------

-- An agent's {skill, level} list, read once per call (one operation asks for it up to five
-- times). Whatever writes the agent's ``skills`` field must call forget_skills(id) after.
local skills_seen = {}
local function skills_of(id)
  local out = skills_seen[id]
  if out then return out end
  local s = redis.call('HGET', K.agent(id), 'skills')
  out = {}
  if s then
    for name, lvl in string.gmatch(s, '([^,:]+):(%d+)') do out[#out + 1] = {name, tonumber(lvl)} end
  end
  skills_seen[id] = out
  return out
end

local function forget_skills(id) skills_seen[id] = nil end

local function unready(id)
  for _, sk in ipairs(skills_of(id)) do redis.call('ZREM', K.ready(sk[1]), id) end
end

local function staff(id, on)
  for _, sk in ipairs(skills_of(id)) do
    if on then redis.call('SADD', K.staffed(sk[1]), id) else redis.call('SREM', K.staffed(sk[1]), id) end
  end
end

local function set_ready(id, idle)
  redis.call('HSET', K.agent(id), 'state', 'ready', 'reason', '', 'since', S(now),
    'idle_since', S(idle), 'call', '')
  notice('agent', id, '', 'ready', '')
  for _, sk in ipairs(skills_of(id)) do
    -- best level (10) first, then the longest idle
    redis.call('ZADD', K.ready(sk[1]), S((11 - sk[2]) * 1e13 + idle), id)
  end
end

local function push_offer(uid, id)
  local e = K.entry(uid)
  local h = redis.call('HMGET', e, 'server', 'kind', 'lease_ms', 'skill', 'caller')
  local iface = redis.call('HGET', K.agent(id), 'interface') or ''
  local offer = uid .. '\t' .. id .. '\t' .. iface
  notice('offer', id, uid, h[4] or '', h[5] or '', h[2] or 'call')
  if h[2] == 'callback' then
    -- nobody is on the line: a dialler (any process) originates the call; its lease is
    -- renewed by the dialler while it dials and talks
    redis.call('RPUSH', K.callbacks(), offer)
    redis.call('ZADD', K.leases(), S(now + tonumber(h[3] or '30000')), uid)
    emit(uid, h[4], id, 'CALLBACKDIAL', h[5] or '', iface)
    return
  end
  local inbox = K.inbox(h[1])
  redis.call('RPUSH', inbox, offer)
  redis.call('EXPIRE', inbox, 86400)
end

-- A callback entry is gone (answered, merged, reaped): the caller may ask for another.
local function forget_callback(uid)
  local h = redis.call('HMGET', K.entry(uid), 'kind', 'caller')
  if h[1] ~= 'callback' then return end
  redis.call('ZREM', K.cbretry(), uid)
  if h[2] and redis.call('HGET', K.cbcallers(), h[2]) == uid then
    redis.call('HDEL', K.cbcallers(), h[2])
  end
end

-- Match waiting callers of one skill with its ready agents, head to head. The ready set is
-- looked at first: it is the one that is usually empty (callers waiting for a busy floor).
-- Two of each are read: when either set held only the pair just matched, it is empty now
-- and the loop ends without reading them again (the usual case: one agent became ready).
local function assign(skill)
  local n = 0
  while true do
    local a = redis.call('ZRANGE', K.ready(skill), 0, 1)
    if #a == 0 then break end
    local c = redis.call('ZRANGE', K.waiting(skill), 0, 1)
    if #c == 0 then break end
    local uid, id = c[1], a[1]
    unready(id)
    redis.call('HSET', K.agent(id), 'state', 'reserved', 'since', S(now), 'call', uid)
    redis.call('ZREM', K.waiting(skill), uid)
    redis.call('ZREM', K.arrivals(skill), uid)
    redis.call('HSET', K.entry(uid), 'state', 'offered', 'agent', id, 'offered_at', S(now))
    push_offer(uid, id)
    n = n + 1
    if #a < 2 or #c < 2 then break end
  end
  return n
end

-- A newly ready agent takes the longest-placed caller among its skills.
local function assign_agent(id)
  local heads = {}
  for _, sk in ipairs(skills_of(id)) do
    local h = redis.call('ZRANGE', K.waiting(sk[1]), 0, 0, 'WITHSCORES')
    if #h > 0 then heads[#heads + 1] = {sk[1], tonumber(h[2]), -sk[2]} end
  end
  if #heads > 1 then
    table.sort(heads, function(x, y)
      if x[2] ~= y[2] then return x[2] < y[2] end
      return x[3] < y[3]
    end)
  end
  for i, h in ipairs(heads) do
    -- the agent is ready when it gets here (and were it not, assign would not pick it); once
    -- a skill has been served it may have been taken
    if i > 1 and redis.call('HGET', K.agent(id), 'state') ~= 'ready' then break end
    assign(h[1])
  end
end

local function do_logout(id, reason)
  unready(id)
  staff(id, false)
  redis.call('ZREM', K.wrapup(), id)
  redis.call('ZREM', K.heartbeats(), id)
  redis.call('SREM', K.agents(), id)
  redis.call('HSET', K.agent(id), 'state', 'offline', 'reason', reason, 'since', S(now),
    'call', '', 'pending', '', 'pending_reason', '')
  notice('agent', id, '', 'offline', reason)
  emit('NONE', 'NONE', id, 'REMOVEMEMBER', reason)
end

local function do_pause(id, reason)
  unready(id)
  staff(id, false)
  redis.call('ZREM', K.wrapup(), id)
  redis.call('HSET', K.agent(id), 'state', 'paused', 'reason', reason, 'since', S(now),
    'call', '', 'pending', '', 'pending_reason', '')
  notice('agent', id, '', 'paused', reason)
  emit('NONE', 'NONE', id, 'PAUSE', reason)
end

-- After a call, a missed ring or a wrap-up: what the agent asked for, else ready.
local function settle(id, wrapup_ms)
  local p = redis.call('HMGET', K.agent(id), 'pending', 'pending_reason')
  if p[1] == 'logout' then
    do_logout(id, p[2] or 'logout')
  elseif p[1] == 'pause' then
    do_pause(id, p[2] or 'pause')
  elseif wrapup_ms > 0 then
    redis.call('HSET', K.agent(id), 'state', 'wrapup', 'since', S(now), 'call', '')
    notice('agent', id, '', 'wrapup', '')
    redis.call('ZADD', K.wrapup(), S(now + wrapup_ms), id)
  else
    set_ready(id, now)
    assign_agent(id)
  end
end

local function agent_state(id)
  return redis.call('HGET', K.agent(id), 'state') or 'offline'
end

-- callers ------------------------------------------------------------------------------

local function position(uid, skill)
  local r = redis.call('ZRANK', K.waiting(skill), uid)
  if r then return r + 1 end
  return 0
end

local ops = {}

-- uid, score, server, lease_ms, skill, enqueued_ms, field/value pairs...
function ops.enqueue()
  local uid, score, server, lease = A[1], A[2], A[3], tonumber(A[4])
  local e = K.entry(uid)
  redis.call('ZADD', K.leases(), S(now + lease), uid)
  if redis.call('EXISTS', e) == 1 then
    local st = redis.call('HMGET', e, 'state', 'skill', 'agent', 'server')
    redis.call('HSET', e, 'server', server)
    if st[1] == 'offered' and st[4] ~= server then push_offer(uid, st[3]) end
    emit(uid, st[2], 'NONE', 'RESUME', server, position(uid, st[2]))
    return {position(uid, st[2]), 1, st[1], st[3] or '', st[2]}
  end
  local skill, enqueued_ms = A[5], A[6]
  local f = {}
  for i = 7, #A do f[#f + 1] = A[i] end
  redis.call('HSET', e, 'state', 'waiting', 'server', server, 'score', score, 'agent', '',
    'skill', skill, 'enqueued_ms', enqueued_ms, unpack(f))
  redis.call('ZADD', K.waiting(skill), score, uid)
  redis.call('ZADD', K.arrivals(skill), enqueued_ms, uid)
  redis.call('SADD', K.skills(), skill)
  local pos = position(uid, skill)
  redis.call('HSET', e, 'position', pos)
  stat(skill, 'offered', 1)
  local h = redis.call('HMGET', e, 'line', 'caller')
  emit(uid, skill, 'NONE', 'ENTERQUEUE', h[1] or '', h[2] or '', pos)
  assign(skill)
  local st = redis.call('HMGET', e, 'state', 'agent')
  return {position(uid, skill), 0, st[1], st[2] or '', skill}
end

-- uid, agent, answered_ms (when the agent answered), service_level_ms
function ops.connect()
  local uid, id, at, sl = A[1], A[2], tonumber(A[3]), tonumber(A[4])
  local e = K.entry(uid)
  local st = redis.call('HMGET', e, 'state', 'agent', 'skill', 'enqueued_ms', 'offered_at',
    'connected_at')
  if st[1] == 'connected' and st[2] == id then
    -- already told (the operator's answer is reported live by the Dial U() gosub, and
    -- again when Dial returns): the first report stands
    return S(tonumber(st[6]) - tonumber(st[4]))
  end
  if st[1] ~= 'offered' or st[2] ~= id then
    return fail('HL-QUE-010', 'caller ' .. uid .. ' is not being offered to agent ' .. id)
  end
  redis.call('HSET', e, 'state', 'connected', 'connected_at', S(at))
  redis.call('HSET', K.agent(id), 'state', 'busy', 'since', S(at))
  notice('connected', id, uid)
  -- the call is served: a server that takes it over (or closes it as lost) must know
  if redis.call('EXISTS', K.call(uid)) == 1 then
    redis.call('HSET', K.call(uid), 'done', '1', 'agent', id)
  end
  local wait = at - tonumber(st[4])
  stat(st[3], 'answered', 1)
  stat(st[3], 'wait_ms', math.floor(wait))
  if wait <= sl then stat(st[3], 'answered_in_sl', 1) end
  emit(uid, st[3], id, 'CONNECT', math.floor(wait / 1000), '', math.floor((at - tonumber(st[5])) / 1000))
  return S(wait)
end

-- uid, agent, wrapup_ms, who ("caller" or "agent") -> the agent's new state; when that is
-- reserved (offered its next caller in this same step), "reserved TAB uniqueid". One string,
-- not an array: cheaper for the client to read, and complete is on every call's path.
function ops.complete()
  local uid, id, wrapup, who = A[1], A[2], tonumber(A[3]), A[4]
  local e = K.entry(uid)
  local st = redis.call('HMGET', e, 'state', 'agent', 'skill', 'enqueued_ms', 'connected_at', 'position')
  if st[1] ~= 'connected' or st[2] ~= id then
    return fail('HL-QUE-011', 'caller ' .. uid .. ' is not connected to agent ' .. id)
  end
  forget_callback(uid)
  redis.call('DEL', e)
  redis.call('ZREM', K.leases(), uid)
  local talk = now - tonumber(st[5])
  stat(st[3], 'completed', 1)
  stat(st[3], 'talk_ms', math.floor(talk))
  local event = 'COMPLETECALLER'
  if who == 'agent' then event = 'COMPLETEAGENT' end
  emit(uid, st[3], id, event, math.floor((tonumber(st[5]) - tonumber(st[4])) / 1000),
    math.floor(talk / 1000), st[6] or '')
  local ag = redis.call('HMGET', K.agent(id), 'state', 'call')
  local state = ag[1] or 'offline'
  if (state == 'busy' or state == 'reserved') and ag[2] == uid then
    settle(id, wrapup)
    ag = redis.call('HMGET', K.agent(id), 'state', 'call')
    if ag[1] == 'reserved' then return 'reserved\t' .. ag[2] end
    return ag[1] or 'offline'
  end
  return state
end

-- uid, agent, answered_ms, service_level_ms, wrapup_ms, who, snapshot: the operator answered
-- and the conversation is over (Dial returned), in one step instead of three: the live
-- call's snapshot, marked served (call_note; skipped when the snapshot is ''), CONNECT (the
-- first report stands), COMPLETE. -> {wait_ms, the agent's state as complete returns it}.
-- An error of CONNECT or COMPLETE leaves done what came before it, as the three steps did.
function ops.answered()
  local uid, id, at, sl, wrapup, who, snap = A[1], A[2], A[3], A[4], A[5], A[6], A[7]
  if snap ~= '' then
    A = {uid, snap, '1'}
    ops.call_note()
  end
  A = {uid, id, at, sl}
  local wait = ops.connect()
  if type(wait) == 'table' and wait.err then return wait end
  A = {uid, id, wrapup, who}
  local state = ops.complete()
  if type(state) == 'table' and state.err then return state end
  return {wait, state}
end

-- uid, agent, dial status, ring seconds
function ops.noanswer()
  local uid, id, status = A[1], A[2], A[3]
  local e = K.entry(uid)
  local st = redis.call('HMGET', e, 'state', 'agent', 'skill', 'score', 'enqueued_ms', 'offered_at')
  if st[1] ~= 'offered' or st[2] ~= id then
    return fail('HL-QUE-010', 'caller ' .. uid .. ' is not being offered to agent ' .. id)
  end
  local skill = st[3]
  redis.call('HSET', e, 'state', 'waiting', 'agent', '')
  if redis.call('HGET', e, 'kind') == 'callback' then redis.call('ZREM', K.leases(), uid) end
  redis.call('ZADD', K.waiting(skill), st[4], uid)
  redis.call('ZADD', K.arrivals(skill), st[5], uid)
  emit(uid, skill, id, 'RINGNOANSWER', now - tonumber(st[6]), status)
  notice('offer-ended', id, uid, 'noanswer', status)
  if agent_state(id) == 'reserved' and redis.call('HGET', K.agent(id), 'call') == uid then
    local p = redis.call('HGET', K.agent(id), 'pending')
    if p == 'logout' then do_logout(id, redis.call('HGET', K.agent(id), 'pending_reason')) else do_pause(id, 'no answer') end
  end
  assign(skill)
  local now_st = redis.call('HMGET', e, 'state', 'agent')
  return {position(uid, skill), now_st[1], now_st[2] or ''}
end

-- The caller leaves the queue unanswered: hung up (ABANDON), or sent elsewhere by an
-- overflow rule (OVERFLOW action|target|reason|waittime, when ``action`` is given), or its
-- Asterisk box went away (action ``pbx-lost``, target the box: PBXLOST).
local function abandon(uid, reason, action, target)
  local e = K.entry(uid)
  local st = redis.call('HMGET', e, 'state', 'agent', 'skill', 'enqueued_ms', 'position')
  if not st[1] then return -1 end
  if st[1] == 'connected' then return -2 end
  local skill = st[3]
  local pos = position(uid, skill)
  redis.call('ZREM', K.waiting(skill), uid)
  redis.call('ZREM', K.arrivals(skill), uid)
  redis.call('ZREM', K.leases(), uid)
  forget_callback(uid)
  redis.call('DEL', e)
  local wait = now - tonumber(st[4])
  if action == 'key' then
    -- self-service chosen in the menu (a lookup, a message, a transfer): not a caller for a
    -- person after all; as Asterisk's EXITWITHKEY (choice|position|origposition|waittime),
    -- with the menu node it went to
    stat(skill, 'offered', -1)
    stat(skill, 'selfservice', 1)
    emit(uid, skill, 'NONE', 'EXITWITHKEY', reason, pos, st[5] or '', math.floor(wait / 1000),
      target or '')
  elseif action == 'pbx-lost' then
    -- the caller's Asterisk box went away: it was offered (entered the queue) but did not
    -- abandon; PBXLOST position|origposition|waittime|box, counted apart
    stat(skill, 'pbx_lost', 1)
    emit(uid, skill, 'NONE', 'PBXLOST', pos, st[5] or '', math.floor(wait / 1000), target or '')
  elseif action then
    stat(skill, 'overflowed', 1)
    emit(uid, skill, 'NONE', 'OVERFLOW', action, target or '', reason, math.floor(wait / 1000))
  else
    stat(skill, 'abandoned', 1)
    emit(uid, skill, 'NONE', 'ABANDON', pos, st[5] or '', math.floor(wait / 1000), reason)
  end
  if st[1] == 'offered' then
    local id = st[2]
    notice('offer-ended', id, uid, action or 'abandon', reason)
    if agent_state(id) == 'reserved' and redis.call('HGET', K.agent(id), 'call') == uid then
      local p = redis.call('HGET', K.agent(id), 'pending')
      if p == 'logout' or p == 'pause' then
        settle(id, 0)
      else
        -- the agent did not get the call: keep its place among the idle agents
        set_ready(id, tonumber(redis.call('HGET', K.agent(id), 'idle_since')) or now)
        assign_agent(id)
      end
    end
  end
  return wait
end

-- uid, reason
function ops.abandon()
  local r = abandon(A[1], A[2])
  if r == -2 then
    return fail('HL-QUE-012', 'caller ' .. A[1] .. ' is connected: complete the call instead')
  end
  return S(r)
end

-- agent, name, interface, skills ("a:5,b:3"), heartbeat_ms, ready (0/1)
function ops.login()
  local id, name, iface, skills, hb, go = A[1], A[2], A[3], A[4], tonumber(A[5]), A[6]
  local a = K.agent(id)
  local state = agent_state(id)
  if state == 'offline' then
    redis.call('DEL', a)
    redis.call('HSET', a, 'id', id, 'name', name, 'interface', iface, 'skills', skills,
      'state', 'paused', 'reason', 'login', 'since', S(now), 'idle_since', S(now), 'call', '',
      'pending', '', 'pending_reason', '', 'login_at', S(now))
    forget_skills(id)
    redis.call('SADD', K.agents(), id)
    emit('NONE', 'NONE', id, 'ADDMEMBER', iface)
    if go ~= '1' then notice('agent', id, '', 'paused', 'login') end
  elseif state == 'reserved' or state == 'busy' then
    -- on a call: keep the skills in force until it ends
    redis.call('HSET', a, 'name', name, 'interface', iface)
  else
    unready(id)
    staff(id, false)
    redis.call('HSET', a, 'name', name, 'interface', iface, 'skills', skills)
    forget_skills(id)
    if state ~= 'paused' then staff(id, true) end
    if state == 'ready' then set_ready(id, tonumber(redis.call('HGET', a, 'idle_since')) or now) end
  end
  for _, sk in ipairs(skills_of(id)) do redis.call('SADD', K.skills(), sk[1]) end
  redis.call('ZADD', K.heartbeats(), S(now + hb), id)
  if go == '1' and agent_state(id) == 'paused' then
    staff(id, true)
    emit('NONE', 'NONE', id, 'UNPAUSE', '')
    set_ready(id, now)
    assign_agent(id)
  elseif agent_state(id) == 'ready' then
    assign_agent(id)
  end
  return agent_state(id)
end

-- agent
function ops.ready()
  local id = A[1]
  local state = agent_state(id)
  if state == 'offline' then return fail('HL-QUE-002', 'agent ' .. id .. ' is not logged in') end
  if state == 'reserved' or state == 'busy' then
    redis.call('HSET', K.agent(id), 'pending', '', 'pending_reason', '')
    return state
  end
  if state == 'ready' then return state end
  if state == 'paused' then
    staff(id, true)
    emit('NONE', 'NONE', id, 'UNPAUSE', redis.call('HGET', K.agent(id), 'reason') or '')
  end
  redis.call('ZREM', K.wrapup(), id)
  set_ready(id, now)
  assign_agent(id)
  return agent_state(id)
end

-- agent, reason
function ops.pause()
  local id, reason = A[1], A[2]
  local state = agent_state(id)
  if state == 'offline' then return fail('HL-QUE-002', 'agent ' .. id .. ' is not logged in') end
  if state == 'reserved' or state == 'busy' then
    redis.call('HSET', K.agent(id), 'pending', 'pause', 'pending_reason', reason)
    return state
  end
  if state == 'paused' and redis.call('HGET', K.agent(id), 'reason') == reason then return state end
  do_pause(id, reason)
  return 'paused'
end

-- agent, reason
function ops.logout()
  local id, reason = A[1], A[2]
  local state = agent_state(id)
  if state == 'offline' then return 'offline' end
  if state == 'reserved' or state == 'busy' then
    redis.call('HSET', K.agent(id), 'pending', 'logout', 'pending_reason', reason)
    redis.call('ZREM', K.heartbeats(), id)
    return state
  end
  do_logout(id, reason)
  return 'offline'
end

-- agent, heartbeat_ms
function ops.heartbeat()
  local id, hb = A[1], tonumber(A[2])
  local state = agent_state(id)
  if state == 'offline' then return fail('HL-QUE-002', 'agent ' .. id .. ' is not logged in') end
  local p = redis.call('HMGET', K.agent(id), 'pending', 'pending_reason')
  if p[1] == 'logout' and p[2] == 'heartbeat' then
    -- marked by the reaper while on a call, and the desk is there after all
    redis.call('HSET', K.agent(id), 'pending', '', 'pending_reason', '')
    p[1] = ''
  end
  if p[1] ~= 'logout' then
    redis.call('ZADD', K.heartbeats(), S(now + hb), id)
  end
  return state
end

-- lease_ms, number of callers n, n callers' uids, then live calls' uids (only those still
-- registered: a call already taken as lost stays lost)
function ops.renew()
  local lease = S(now + tonumber(A[1]))
  local last = 2 + tonumber(A[2])
  local n = 0
  for i = 3, last do n = n + redis.call('ZADD', K.leases(), 'XX', 'CH', lease, A[i]) end
  for i = last + 1, #A do n = n + redis.call('ZADD', K.calls(), 'XX', 'CH', lease, A[i]) end
  return n
end

-- uid, key pressed, lease_ms (of the callback while a dialler holds it)
-- The waiting caller becomes a callback entry: same score, same place, no session. One
-- callback per caller number: a second request merges into the pending one, which keeps
-- the better (earlier) of the two places.
function ops.callback()
  local uid, key, lease = A[1], A[2], A[3]
  local e = K.entry(uid)
  local st = redis.call('HMGET', e, 'state', 'skill', 'caller', 'score', 'enqueued_ms', 'position')
  if not st[1] then return {'gone', '', 0} end
  if st[1] ~= 'waiting' then return {st[1], '', 0} end
  local skill, caller = st[2], st[3] or ''
  local pos = position(uid, skill)
  local wait = math.floor((now - tonumber(st[5])) / 1000)
  local other = redis.call('HGET', K.cbcallers(), caller)
  if other and other ~= uid and redis.call('EXISTS', K.entry(other)) == 1 then
    local o = redis.call('HMGET', K.entry(other), 'state', 'skill', 'score', 'enqueued_ms')
    if (o[1] == 'waiting' or o[1] == 'retry') and tonumber(o[3]) > tonumber(st[4]) then
      redis.call('HSET', K.entry(other), 'score', st[4], 'enqueued_ms', st[5])
      if o[1] == 'waiting' then
        redis.call('ZADD', K.waiting(o[2]), st[4], other)
        redis.call('ZADD', K.arrivals(o[2]), st[5], other)
      end
    end
    -- a callback waiting to be tried again: its caller has just called, so try it now
    if o[1] == 'retry' then redis.call('ZADD', K.cbretry(), S(now), other) end
    redis.call('ZREM', K.waiting(skill), uid)
    redis.call('ZREM', K.arrivals(skill), uid)
    redis.call('ZREM', K.leases(), uid)
    redis.call('DEL', e)
    emit(uid, skill, 'NONE', 'CALLBACKREQUEST', key, pos, st[6] or '', wait, 'merged:' .. other)
    return {'merged', other, position(other, o[2])}
  end
  redis.call('HSET', e, 'kind', 'callback', 'lease_ms', lease, 'server', '')
  redis.call('ZREM', K.leases(), uid)
  if caller ~= '' then redis.call('HSET', K.cbcallers(), caller, uid) end
  stat(skill, 'callbacks', 1)
  emit(uid, skill, 'NONE', 'CALLBACKREQUEST', key, pos, st[6] or '', wait, '')
  return {'callback', uid, pos}
end

-- uid, new skill, reason[, from]: overflow by widening the skill (or a key that picked
-- another skill); the caller keeps its score. With ``from``, only a caller still in that
-- skill moves (a widening decided on a reading the menu may have overtaken).
function ops.move()
  local uid, to, reason = A[1], A[2], A[3]
  local e = K.entry(uid)
  local st = redis.call('HMGET', e, 'state', 'skill', 'score', 'enqueued_ms')
  if st[1] ~= 'waiting' then return {0, st[1] or 'gone', ''} end
  local from = st[2]
  if A[4] and A[4] ~= '' and A[4] ~= from then
    return {position(uid, from), 'moved', ''}
  end
  if from ~= to then
    redis.call('ZREM', K.waiting(from), uid)
    redis.call('ZREM', K.arrivals(from), uid)
    redis.call('HSET', e, 'skill', to)
    redis.call('ZADD', K.waiting(to), st[3], uid)
    redis.call('ZADD', K.arrivals(to), st[4], uid)
    redis.call('SADD', K.skills(), to)
    stat(from, 'overflowed', 1)
    emit(uid, from, 'NONE', 'OVERFLOW', 'widen', to, reason,
      math.floor((now - tonumber(st[4])) / 1000))
    assign(to)
  end
  local h = redis.call('HMGET', e, 'state', 'agent')
  return {position(uid, to), h[1], h[2] or ''}
end

-- uid, action, target, reason: the caller leaves the queue by an overflow rule
function ops.leave()
  local r = abandon(A[1], A[4], A[2], A[3])
  if r == -2 then
    return fail('HL-QUE-012', 'caller ' .. A[1] .. ' is connected: complete the call instead')
  end
  return S(r)
end

-- callbacks that did not reach their caller ---------------------------------------------

-- Out of the dialler's hands, to be tried again in ``after_ms``: its place (the score) is
-- kept, it goes back into the waiting set when due (``due_callbacks``).
local function park_callback(uid, after_ms)
  redis.call('HSET', K.entry(uid), 'state', 'retry', 'agent', '')
  redis.call('ZREM', K.leases(), uid)
  redis.call('ZADD', K.cbretry(), S(now + after_ms), uid)
end

-- The agent reserved for ``uid`` did nothing wrong: ready again with its idle place (or
-- what it asked for meanwhile), and offered another caller.
local function release_agent(id, uid)
  if agent_state(id) ~= 'reserved' or redis.call('HGET', K.agent(id), 'call') ~= uid then return end
  local p = redis.call('HGET', K.agent(id), 'pending')
  if p == 'logout' or p == 'pause' then
    settle(id, 0)
  else
    set_ready(id, tonumber(redis.call('HGET', K.agent(id), 'idle_since')) or now)
    assign_agent(id)
  end
end

-- Callbacks due again go back to their place, but only while some dialler is logged in to
-- AMI (otherwise they would only tie up agents).
local function due_callbacks(max)
  if redis.call('ZCOUNT', K.diallers(), S(now), '+inf') == 0 then return 0 end
  local n = 0
  for _, uid in ipairs(redis.call('ZRANGEBYSCORE', K.cbretry(), '-inf', S(now), 'LIMIT', 0, max)) do
    redis.call('ZREM', K.cbretry(), uid)
    local st = redis.call('HMGET', K.entry(uid), 'state', 'skill', 'score', 'enqueued_ms')
    if st[1] == 'retry' then
      redis.call('HSET', K.entry(uid), 'state', 'waiting')
      redis.call('ZADD', K.waiting(st[2]), st[3], uid)
      redis.call('ZADD', K.arrivals(st[2]), st[4], uid)
      assign(st[2])
      n = n + 1
    end
  end
  return n
end

-- uid, agent, status (DIALSTATUS of the citizen's leg, or why it was not dialled), counted
-- ("1": the citizen was dialled and did not answer; "0": it was not dialled at all), max
-- attempts, retry_ms. A callback that did not reach its caller after the agent was reserved:
-- CALLBACKFAIL (status|attempts|max|retry in s); back to its place in retry_ms, or after
-- ``max`` counted attempts closed like a caller who hung up (ABANDON reason ``callback``,
-- which leaves a missed-call task). The agent is free at once: it answered (counted) or was
-- never rung.
function ops.cbfail()
  local uid, id, status, counted = A[1], A[2], A[3], A[4] == '1'
  local max, retry = tonumber(A[5]), tonumber(A[6])
  local e = K.entry(uid)
  local st = redis.call('HMGET', e, 'state', 'agent', 'skill', 'kind', 'enqueued_ms', 'position',
    'attempts')
  if st[1] ~= 'offered' or st[2] ~= id or st[4] ~= 'callback' then
    return fail('HL-QUE-010', 'callback ' .. uid .. ' is not being offered to agent ' .. id)
  end
  local skill = st[3]
  local attempts = tonumber(st[7] or '0') or 0
  if counted then attempts = attempts + 1 end
  local closed = counted and attempts >= max
  local after = ''
  if not closed then after = math.floor(retry / 1000) end
  emit(uid, skill, id, 'CALLBACKFAIL', status, attempts, max, after)
  notice('offer-ended', id, uid, 'callback', status)
  if closed then
    forget_callback(uid)
    redis.call('DEL', e)
    redis.call('ZREM', K.leases(), uid)
    stat(skill, 'abandoned', 1)
    emit(uid, skill, 'NONE', 'ABANDON', 0, st[6] or '', math.floor((now - tonumber(st[5])) / 1000),
      'callback')
  else
    redis.call('HSET', e, 'attempts', attempts)
    park_callback(uid, retry)
  end
  if counted and agent_state(id) == 'reserved' and redis.call('HGET', K.agent(id), 'call') == uid then
    settle(id, 0)
  else
    release_agent(id, uid)
  end
  if closed then return {'closed', attempts} end
  return {'retry', attempts}
end

-- server, ttl_ms: this server's dialler is logged in to AMI for ttl_ms (0: it no longer
-- is; negative: only asking); returns how many diallers are logged in
function ops.dialler()
  local server, ttl = A[1], tonumber(A[2])
  if ttl > 0 then
    redis.call('ZADD', K.diallers(), S(now + ttl), server)
  elseif ttl == 0 then
    redis.call('ZREM', K.diallers(), server)
  end
  redis.call('ZREMRANGEBYSCORE', K.diallers(), '-inf', '(' .. S(now))
  return redis.call('ZCARD', K.diallers())
end

-- Whether Redis still holds what the servers told it: ``token`` is the epoch this server
-- knows ('' = do not check). When the epoch is missing, Redis forgot everything: ``fresh``
-- becomes the new one. Returns the status (ok, missing, changed, skip) and the epoch now.
local function check_epoch(token, fresh)
  if token == '' then return 'skip', '' end
  local cur = redis.call('GET', K.epoch())
  if not cur then
    redis.call('SET', K.epoch(), fresh)
    return 'missing', fresh
  end
  if cur ~= token then return 'changed', cur end
  return 'ok', cur
end

-- Every server was away for longer than ``gap_ms`` (no reaper ran; or none ever did): the
-- heartbeats the desks could not send meanwhile are not held against the agents; each gets
-- a full interval.
local function forgive_heartbeats(gap, hb)
  local last = tonumber(redis.call('GET', K.reaper_at()) or '')
  if not last or now - last > gap then
    local until_s = S(now + hb)
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.heartbeats(), '-inf', '(' .. until_s)) do
      redis.call('ZADD', K.heartbeats(), until_s, id)
    end
  end
  if not last or now > last then redis.call('SET', K.reaper_at(), NOW_S) end
end

-- Live calls whose lease expired (their server died, and no server took them again): each
-- is taken by exactly one reaper, which closes it (``server-lost``) from what it holds.
local function take_lost(max)
  local out = {}
  for _, uid in ipairs(redis.call('ZRANGEBYSCORE', K.calls(), '-inf', S(now), 'LIMIT', 0, max)) do
    local h = redis.call('HMGET', K.call(uid), 'server', 'attempt', 'done', 'snapshot')
    redis.call('ZREM', K.calls(), uid)
    redis.call('DEL', K.call(uid))
    out[#out + 1] = uid
    out[#out + 1] = h[1] or ''
    out[#out + 1] = h[2] or '0'
    out[#out + 1] = h[3] or '0'
    out[#out + 1] = h[4] or ''
  end
  return out
end

-- The logged-in agents, for the servers' mirror (re-created from it when Redis forgot):
-- id, name, interface, skills, state, reason, idle_since, call; eight strings each, flat.
local function agents_list()
  local out = {}
  for _, id in ipairs(redis.call('SMEMBERS', K.agents())) do
    local h = redis.call('HMGET', K.agent(id), 'name', 'interface', 'skills', 'state', 'reason',
      'idle_since', 'call')
    out[#out + 1] = id
    for i = 1, 7 do out[#out + 1] = h[i] or '' end
  end
  return out
end

-- The reaper and the servers' watch on Redis, one round trip a tick. max per kind (0: no
-- reaping, only the epoch check); lost_max: live calls to take (0: this server does not
-- close lost calls); gap_ms, heartbeat_ms; epoch token, fresh token; mirror (1: list the
-- agents) -> {wrapups, logouts, reaped, epoch status, epoch, lost calls, agents}
function ops.tick()
  local max, lost_max, gap, hb = tonumber(A[1]), tonumber(A[2]), tonumber(A[3]), tonumber(A[4])
  local status, epoch = check_epoch(A[5], A[6])
  local agents = {}
  if A[7] == '1' then agents = agents_list() end
  local lost = {}
  if lost_max > 0 then lost = take_lost(lost_max) end
  if max == 0 then return {0, 0, 0, status, epoch, lost, agents} end
  forgive_heartbeats(gap, hb)
  local wrapups, logouts, reaped = 0, 0, 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.wrapup(), '-inf', S(now), 'LIMIT', 0, max)) do
    redis.call('ZREM', K.wrapup(), id)
    if agent_state(id) == 'wrapup' then
      settle(id, 0)
      wrapups = wrapups + 1
    end
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.heartbeats(), '-inf', S(now), 'LIMIT', 0, max)) do
    redis.call('ZREM', K.heartbeats(), id)
    local state = agent_state(id)
    if state == 'reserved' or state == 'busy' then
      redis.call('HSET', K.agent(id), 'pending', 'logout', 'pending_reason', 'heartbeat')
    elseif state ~= 'offline' then
      do_logout(id, 'heartbeat')
    end
    logouts = logouts + 1
  end
  for _, uid in ipairs(redis.call('ZRANGEBYSCORE', K.leases(), '-inf', S(now), 'LIMIT', 0, max)) do
    local st = redis.call('HMGET', K.entry(uid), 'state', 'agent', 'skill', 'kind', 'score',
      'enqueued_ms')
    if st[4] == 'callback' and st[1] ~= 'connected' then
      -- no dialler took the offer, or the one that did died: tried again after one lease
      -- (once a dialler is logged in), at its place; the agent keeps its idle place
      redis.call('ZREM', K.leases(), uid)
      if st[1] == 'offered' then
        emit(uid, st[3], st[2], 'RINGNOANSWER', 0, 'lease')
        notice('offer-ended', st[2], uid, 'lease', 'lease')
        park_callback(uid, tonumber(redis.call('HGET', K.entry(uid), 'lease_ms')) or 30000)
        release_agent(st[2], uid)
      end
    elseif st[1] == 'connected' then
      forget_callback(uid)
      -- the session that bridged the call is gone; the call itself ended or will be
      -- reported by Asterisk: close it as completed by the caller
      local e = K.entry(uid)
      local ct = tonumber(redis.call('HGET', e, 'connected_at')) or now
      redis.call('DEL', e)
      redis.call('ZREM', K.leases(), uid)
      emit(uid, st[3], st[2], 'COMPLETECALLER', '', math.floor((now - ct) / 1000), 'lease')
      local state = agent_state(st[2])
      if (state == 'busy' or state == 'reserved') and redis.call('HGET', K.agent(st[2]), 'call') == uid then
        settle(st[2], 0)
      end
    elseif st[1] then
      abandon(uid, 'lease')
    else
      redis.call('ZREM', K.leases(), uid)
    end
    reaped = reaped + 1
  end
  due_callbacks(max)
  return {wrapups, logouts, reaped, status, epoch, lost, agents}
end

-- token, fresh: the epoch now (set to ``fresh`` when missing), and whether it was missing
function ops.epoch()
  local status, epoch = check_epoch(A[1], A[2])
  return {status, epoch}
end

-- Whether any agent is logged in for ``skill``, paused ones included (they come back).
-- Only asked when nobody is staffed for it: then every logged-in agent is looked at.
local function present(skill)
  for _, id in ipairs(redis.call('SMEMBERS', K.agents())) do
    for _, sk in ipairs(skills_of(id)) do
      if sk[1] == skill then return 1 end
    end
  end
  return 0
end

-- uid -> {position, state, skill, agent, staffed, completed today, talk ms today, waiting,
-- present (1: some agent logged in for the skill, paused or not)}
function ops.position()
  local uid = A[1]
  local st = redis.call('HMGET', K.entry(uid), 'state', 'skill', 'agent')
  if not st[1] then return {0, 'gone', '', '', 0, 0, 0, 0, 0} end
  local skill = st[2]
  local h = redis.call('HMGET', K.stats(day), skill .. ':completed', skill .. ':talk_ms')
  local staffed = redis.call('SCARD', K.staffed(skill))
  local there = 1
  if staffed == 0 then there = present(skill) end
  return {position(uid, skill), st[1], skill, st[3] or '', staffed,
    tonumber(h[1] or '0'), tonumber(h[2] or '0'), redis.call('ZCARD', K.waiting(skill)), there}
end

-- the live picture, as JSON
function ops.snapshot()
  local out = {skills = {}, agents = {}}
  local skills = redis.call('SMEMBERS', K.skills())
  local stats = redis.call('HGETALL', K.stats(day))
  local sm = {}
  for i = 1, #stats, 2 do sm[stats[i]] = tonumber(stats[i + 1]) end
  for _, s in ipairs(skills) do
    local oldest = redis.call('ZRANGE', K.arrivals(s), 0, 0, 'WITHSCORES')
    local longest = 0
    if #oldest > 0 then longest = now - tonumber(oldest[2]) end
    local today = {}
    for _, f in ipairs({'offered', 'answered', 'abandoned', 'answered_in_sl', 'wait_ms', 'completed', 'talk_ms',
      'callbacks', 'overflowed', 'selfservice', 'pbx_lost'}) do
      today[f] = sm[s .. ':' .. f] or 0
    end
    out.skills[s] = {waiting = redis.call('ZCARD', K.waiting(s)), longest_wait_ms = longest,
      staffed = redis.call('SCARD', K.staffed(s)), ready = redis.call('ZCARD', K.ready(s)),
      agents = {}, today = today}
  end
  for _, id in ipairs(redis.call('SMEMBERS', K.agents())) do
    local h = redis.call('HMGET', K.agent(id), 'state', 'reason', 'since', 'skills', 'call', 'name')
    out.agents[#out.agents + 1] = {id = id, state = h[1], reason = h[2] or '', since = tonumber(h[3]),
      skills = h[4] or '', call = h[5] or '', name = h[6] or ''}
    for _, sk in ipairs(skills_of(id)) do
      local s = out.skills[sk[1]]
      if s then s.agents[h[1]] = (s.agents[h[1]] or 0) + 1 end
    end
  end
  return cjson.encode(out)
end

-- live calls -----------------------------------------------------------------------------

-- uid, server, attempt, lease_ms, snapshot -> what was known of the call before: {server,
-- attempt, done, agent, snapshot} ('' and 0 when new). ``done`` is sticky: once served, always served.
function ops.call_start()
  local uid, server, attempt, lease, snap = A[1], A[2], A[3], tonumber(A[4]), A[5]
  local c = K.call(uid)
  local h = redis.call('HMGET', c, 'server', 'attempt', 'done', 'agent', 'snapshot')
  redis.call('HSET', c, 'server', server, 'attempt', attempt, 'snapshot', snap, 'done',
    h[3] or '0', 'agent', h[4] or '')
  redis.call('ZADD', K.calls(), S(now + lease), uid)
  return {h[1] or '', h[2] or '0', h[3] or '0', h[4] or '', h[5] or ''}
end

-- uid, snapshot, done (1: served; never unset) -> 1, or 0 when the call is not registered
function ops.call_note()
  local uid, snap, done = A[1], A[2], A[3]
  local c = K.call(uid)
  if redis.call('EXISTS', c) == 0 then return 0 end
  redis.call('HSET', c, 'snapshot', snap)
  if done == '1' then
    redis.call('HSET', c, 'done', '1')
    if (redis.call('HGET', c, 'agent') or '') == '' then
      local e = redis.call('HMGET', K.entry(uid), 'state', 'agent')
      if e[1] == 'connected' then redis.call('HSET', c, 'agent', e[2]) end
    end
  end
  return 1
end

-- uid: the call's record is stored; forget it
function ops.call_end()
  redis.call('ZREM', K.calls(), A[1])
  return redis.call('DEL', K.call(A[1]))
end

-- Redis forgot (or a lost call could not be closed): a server re-asserts what it knows, as
-- JSON {server, lease_ms, heartbeat_ms, callers, bridged, calls, agents}. Each thing is
-- created only when missing; no event, no counter. Callers first (with their original
-- scores and enqueue times), then the agents, so that assignment takes the head callers.
-- callers: [uid, score, skill, enqueued_ms, caller, line, priority, enqueued_at]
-- bridged: the same and the agent talking to the caller (9th)
-- calls: [uid, server, attempt, done, agent, snapshot]
-- agents: [id, name, interface, skills, state, reason, idle_since, call]
-- -> {callers, bridged, calls, agents} re-created
function ops.restore()
  local R = cjson.decode(A[1])
  local lease, hb = tonumber(R.lease_ms), tonumber(R.heartbeat_ms)
  local done = {0, 0, 0, 0}
  local function put_entry(c, state, id)
    local uid, e = c[1], K.entry(c[1])
    redis.call('ZADD', K.leases(), S(now + lease), uid)
    if redis.call('EXISTS', e) == 1 then return false end
    redis.call('HSET', e, 'state', state, 'server', R.server, 'score', c[2], 'agent', id,
      'skill', c[3], 'enqueued_ms', c[4], 'uniqueid', uid, 'caller', c[5], 'line', c[6],
      'priority', c[7], 'enqueued_at', c[8], 'position', '', 'restored_at', NOW_S)
    redis.call('SADD', K.skills(), c[3])
    return true
  end
  for _, c in ipairs(R.callers or {}) do
    if put_entry(c, 'waiting', '') then
      redis.call('ZADD', K.waiting(c[3]), c[2], c[1])
      redis.call('ZADD', K.arrivals(c[3]), c[4], c[1])
      done[1] = done[1] + 1
    end
  end
  for _, c in ipairs(R.bridged or {}) do
    local id = c[9]
    if put_entry(c, 'connected', id) then
      redis.call('HSET', K.entry(c[1]), 'offered_at', NOW_S, 'connected_at', NOW_S)
      done[2] = done[2] + 1
      -- an agent another server re-created as ready is on this call
      if agent_state(id) == 'ready' then
        unready(id)
        redis.call('HSET', K.agent(id), 'state', 'busy', 'since', NOW_S, 'call', c[1])
      end
    end
  end
  for _, c in ipairs(R.calls or {}) do
    local k = K.call(c[1])
    if redis.call('EXISTS', k) == 0 then
      redis.call('HSET', k, 'server', c[2], 'attempt', c[3], 'done', c[4], 'agent', c[5],
        'snapshot', c[6])
      redis.call('ZADD', K.calls(), S(now + lease), c[1])
      done[3] = done[3] + 1
    end
  end
  for _, a in ipairs(R.agents or {}) do
    local id = a[1]
    if redis.call('SISMEMBER', K.agents(), id) == 0 then
      local k = K.agent(id)
      redis.call('DEL', k)
      redis.call('HSET', k, 'id', id, 'name', a[2], 'interface', a[3], 'skills', a[4],
        'state', 'paused', 'reason', a[6], 'since', NOW_S, 'idle_since', a[7], 'call', '',
        'pending', '', 'pending_reason', '', 'login_at', NOW_S)
      forget_skills(id)
      redis.call('SADD', K.agents(), id)
      for _, sk in ipairs(skills_of(id)) do redis.call('SADD', K.skills(), sk[1]) end
      redis.call('ZADD', K.heartbeats(), S(now + hb), id)
      local state, call = a[5], a[8]
      if (state == 'busy' or state == 'reserved') and call ~= '' then
        local e = redis.call('HMGET', K.entry(call), 'state', 'agent')
        if e[2] == id and (e[1] == 'connected' or e[1] == 'offered') then
          if e[1] == 'connected' then state = 'busy' else state = 'reserved' end
          redis.call('HSET', k, 'state', state, 'call', call)
          staff(id, true)
        else
          state = 'ready'
        end
      end
      if state == 'ready' or state == 'wrapup' or state == 'busy' or state == 'reserved' then
        if agent_state(id) == 'paused' then
          staff(id, true)
          set_ready(id, tonumber(a[7]) or now)
        end
      end
      done[4] = done[4] + 1
    end
  end
  -- whatever became possible: ready agents take the waiting callers
  for _, skill in ipairs(redis.call('SMEMBERS', K.skills())) do assign(skill) end
  return done
end

local f = ops[op]
if not f then return fail('HL-QUE-001', 'unknown queue operation ' .. tostring(op)) end
local result = f()
if type(result) == 'table' and result.err then return result end
return {table.concat(EV, '\30'), result}
