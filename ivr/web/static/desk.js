// The operator desk: the agent's state in the queue (ready, pause with a reason, log out),
// the heartbeat that keeps it logged in, and the screen-pop pushed over a WebSocket the
// moment the queue offers a call. Everything it shows comes from this server's /api.
"use strict";

const STATE_NAMES = {
  offline: "未登录 offline", paused: "暂停 paused", ready: "就绪 ready",
  reserved: "振铃 ringing", busy: "通话 on a call", wrapup: "话后 wrap-up",
};
// the pauses the queue makes by itself (not in queue.yaml pause_reasons)
const QUEUE_REASONS = { "no answer": "未接 no answer", "phone offline": "话机离线 phone offline" };
const desk = { me: null, agent: null, state: null, settings: {}, socket: null, retry: 1000 };

function showAgent(agent) {
  desk.state = agent;
  const s = $("state");
  s.className = "state " + agent.state;
  const reasons = desk.settings.pause_reasons || {};
  const reason = agent.state === "paused" && agent.reason ? ` (${reasons[agent.reason] || QUEUE_REASONS[agent.reason] || agent.reason})` : "";
  s.textContent = (STATE_NAMES[agent.state] || agent.state) + reason;
  if (typeof showTransfer === "function") showTransfer(agent);  // transfer.js, while talking
  if (typeof phoneButtons === "function") phoneButtons();  // phone.js: the phone chosen at login
  tick();
}

function tick() {
  const a = desk.state;
  if (!a || !a.since) { $("state-time").textContent = ""; return; }
  const secs = Math.max(0, Math.floor(Date.now() / 1000 - a.since));
  if (a.state === "wrapup" && desk.settings.wrapup_seconds) {
    const left = Math.max(0, Math.ceil(desk.settings.wrapup_seconds - secs));
    $("state-time").textContent = `话后剩余 ${left} s`;
  } else {
    $("state-time").textContent = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
  }
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  row.appendChild(td);
}

function fillTable(id, rows, columns, open) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  for (const r of rows || []) {
    const tr = document.createElement("tr");
    if (open && open(r)) tr.className = "open";
    for (const c of columns) cell(tr, r[c]);
    body.appendChild(tr);
  }
}

function showPop(pop) {
  $("pop").className = "pop ringing";
  $("pop-idle").hidden = true;
  $("pop-call").hidden = false;
  $("pop-caller").textContent = pop.anonymous ? "未显示号码 withheld" : `${pop.caller} ${pop.caller_name || ""}`;
  $("pop-line").textContent = pop.line_number ? `${pop.line_number} ${pop.line_name || ""}` : pop.dialled;
  $("pop-department").textContent = [pop.department_name || pop.department, pop.line_mode].filter(Boolean).join(" · ");
  $("pop-menu").textContent = (pop.path || []).join(" › ") + (pop.digits ? `  [${pop.digits}]` : "");
  $("pop-wait").textContent = `${Math.round(pop.waited_seconds)} s`;
  $("pop-ticket").textContent = pop.ticket_number || "";
  $("pop-flags").textContent = [pop.priority > 0 ? "优先 priority" : "", pop.accessible ? "无障碍 accessibility" : "", pop.kind === "callback" ? "回拨 callback" : ""].filter(Boolean).join(" ");
  $("pop-repeat").hidden = !pop.repeat_caller;
  const named = typeof catalogueName === "function" ? catalogueName : (kind, code) => code;
  const tickets = (pop.tickets || []).map((t) => ({
    number: t.number, accepted: when(t.accepted_at), category: named("category", t.category),
    department: t.department_name || named("department", t.department || ""),
    state: t.state_name, open: t.open,
  }));
  fillTable("pop-tickets", tickets, ["number", "accepted", "category", "department", "state"], (t) => t.open);
  const calls = (pop.calls || []).map((c) => ({
    started: when(c.started_at), line: c.line_name || c.dialled, outcome: c.outcome,
  }));
  fillTable("pop-calls", calls, ["started", "line", "outcome"]);
  if (pop.history_error) problem(`历史记录暂不可用 history unavailable: ${pop.history_error}`);
  desk.pop = pop;
  if (typeof fillFromPop === "function") fillFromPop(pop);  // the ticket form (ticket-form.js)
}

function clearPop(answered) {
  if (answered) { $("pop").className = "pop"; return; }  // the call is on: keep what it showed
  $("pop").className = "pop idle";
  $("pop-idle").hidden = false;
  $("pop-call").hidden = true;
  desk.pop = null;
}

function onNotice(msg) {
  if (msg.type === "hello") {
    desk.settings = msg.settings || {};
    session.timezone = desk.settings.timezone || session.timezone;
    const select = $("pause-reason");
    const chosen = select.value;
    select.replaceChildren();
    for (const [code, label] of Object.entries(desk.settings.pause_reasons || {})) {
      const option = document.createElement("option");
      option.value = code;
      option.textContent = label;
      select.appendChild(option);
    }
    if (chosen) select.value = chosen;
    showAgent(msg.agent);
    if (msg.offer) showPop(msg.offer); else clearPop(false);
  } else if (msg.type === "agent") {
    showAgent(msg.agent);
  } else if (msg.type === "offer") {
    showPop(msg.pop);
    showAgent(msg.agent);
  } else if (msg.type === "offer-ended") {
    if (!desk.pop || desk.pop.uniqueid === msg.uniqueid) clearPop(false);
    showAgent(msg.agent);
  } else if (msg.type === "connected") {
    clearPop(true);
    showAgent(msg.agent);
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/desk/socket?agent=${encodeURIComponent(desk.agent)}`);
  desk.socket = ws;
  ws.onopen = () => { desk.retry = 1000; $("link").className = "link up"; $("link").textContent = "● 在线"; };
  ws.onmessage = (event) => onNotice(JSON.parse(event.data));
  ws.onclose = () => {
    $("link").className = "link down";
    $("link").textContent = "● 重新连接中 reconnecting";
    setTimeout(connect, desk.retry);
    desk.retry = Math.min(desk.retry * 2, 10000);
  };
}

async function act(action, body) {
  try { showAgent(await api("POST", `/api/agents/${encodeURIComponent(desk.agent)}/${action}`, body)); } catch (e) { /* shown */ }
}

async function heartbeat() {
  if (desk.state && desk.state.state !== "offline") {
    try { showAgent(await api("POST", `/api/agents/${encodeURIComponent(desk.agent)}/heartbeat`)); } catch (e) { /* shown */ }
  }
}

async function start() {
  desk.me = session.me = await api("GET", "/api/me");
  desk.agent = desk.me.agent_id || new URLSearchParams(location.search).get("agent");
  $("who").textContent = `${desk.me.username}` + (desk.agent ? ` · 工号 ${desk.agent}` : "");
  if (!desk.agent) { problem("这个账号没有绑定坐席 This account is not an operator: open /desk?agent=ID"); return; }
  showAgent(await api("GET", `/api/agents/${encodeURIComponent(desk.agent)}`));
  // the login takes the phone chosen (phone.js): the browser phone registers first
  const login = async (ready) => {
    const kind = typeof phoneKind === "function" ? phoneKind() : "desk";
    if (kind === "browser" && !(await phoneReady())) return false;
    await act("login", { ready, phone: kind });
    return true;
  };
  $("ready").onclick = async () => {
    if (desk.state.state === "offline") await login(true); else await act("ready");
  };
  $("pause").onclick = async () => {
    const reason = $("pause-reason").value;
    if (desk.state.state === "offline" && !(await login(false))) return;
    await act("pause", { reason });
  };
  $("agent-logout").onclick = () => act("logout", { reason: "logout" });
  $("session-logout").onclick = async () => {
    if (typeof phoneStop === "function") phoneStop();
    await api("POST", "/api/logout");
    location.assign("/login");
  };
  if (typeof loadPhone === "function") await loadPhone(desk.agent);
  if (typeof loadTargets === "function") await loadTargets().catch((e) => problem(String(e)));
  // the ticket form's catalogue first, so that the first screen-pop reads in names
  if (typeof loadCatalogue === "function") await loadCatalogue().catch((e) => problem(String(e)));
  connect();
  if (typeof loadTasks === "function") {  // the callback tasks (callbacks.js), every minute
    loadTasks().catch((e) => problem(String(e)));
    setInterval(() => loadTasks().catch(() => {}), 60000);
  }
  setInterval(tick, 1000);
  setInterval(heartbeat, 20000);
}

start().catch((e) => problem(String(e)));
