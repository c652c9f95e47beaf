// The supervisor's wallboard: one board pushed over /api/wallboard/socket about once a
// second and at once on every queue event; drawn here without any library.
"use strict";

const QUEUE_REASONS = { "no answer": "未接", "phone offline": "话机离线" };  // the queue's own pauses
const STATES = { ready: "就绪", reserved: "振铃", busy: "通话", wrapup: "话后", paused: "暂停", offline: "离线" };
const wb = { retry: 1000 };

function pct(x) { return x == null ? "–" : `${(x * 100).toFixed(1)}%`; }

function clock(seconds) {
  const s = Math.floor(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`
    : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function rows(id, list) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  for (const { cells, className } of list) {
    const tr = document.createElement("tr");
    if (className) tr.className = className;
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

function chart(hourly) {
  const svg = $("wb-hourly");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const top = Math.max(1, ...hourly.today, ...hourly.yesterday);
  for (let h = 0; h < 24; h++) {
    for (const [i, key] of [[0, "yesterday"], [1, "today"]]) {
      const v = hourly[key][h];
      const height = Math.round((v / top) * 150);
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", String(h * 30 + 3 + i * 12));
      r.setAttribute("y", String(160 - height));
      r.setAttribute("width", "11");
      r.setAttribute("height", String(height));
      r.setAttribute("class", key);
      const t = document.createElementNS(ns, "title");
      t.textContent = `${h}:00 ${key === "today" ? "今日" : "昨日"} ${v}`;
      r.appendChild(t);
      svg.appendChild(r);
    }
    if (h % 3 === 0) {
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", String(h * 30 + 3));
      label.setAttribute("y", "176");
      label.textContent = `${h}时`;
      svg.appendChild(label);
    }
  }
}

// the hot issues: flagged groups of similar tickets at one place (docs/hotspots.md)
function hotspots(h) {
  const groups = h ? h.groups : [];
  $("wb-hot-note").textContent = h ? `近 ${h.window_hours} 小时 · ≥ ${h.min_tickets} 件 · 更新于 ${h.end.replace("T", " ").slice(11, 16)}` : "";
  $("wb-hot-none").hidden = groups.length > 0;
  const body = $("wb-hotspots").querySelector("tbody");
  body.replaceChildren();
  for (const g of groups) {
    const tr = document.createElement("tr");
    tr.className = "hot-group";
    for (const text of [g.words.join(" "), g.place || "（无地址）", g.category, String(g.count), g.last_at.replace("T", " ").slice(5, 16)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    const td = document.createElement("td");
    for (const n of g.tickets.slice(-5)) {  // the newest; each opens the ticket with its history
      const a = document.createElement("a");
      a.href = `/api/tickets/${encodeURIComponent(n)}`;
      a.textContent = n;
      a.target = "_blank";
      td.append(a, " ");
    }
    if (g.count > 5) td.append(`等 ${g.count} 件`);
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

function show(b) {
  const sl = b.service_level_seconds;
  for (const e of document.querySelectorAll(".sl-seconds")) e.textContent = String(sl);
  $("wb-time").textContent = b.time.replace("T", " ").slice(0, 19);
  const t = b.total;
  $("t-waiting").textContent = String(t.waiting);
  $("t-longest").textContent = `${Math.round(t.longest_wait_seconds)} 秒`;
  $("tile-longest").classList.toggle("late", t.longest_wait_seconds > sl);
  $("t-sl-offered").textContent = pct(t.service_level_over_offered);
  $("t-sl-answered").textContent = pct(t.service_level_over_answered);
  $("t-answer-rate").textContent = pct(t.answer_rate);
  $("t-answered").textContent = String(t.answered);
  $("t-offered").textContent = String(t.offered);
  $("t-abandoned").textContent = String(t.abandoned);
  $("t-pbx-lost").textContent = String(t.pbx_lost);
  if (b.last_30_minutes) {
    $("t-sl30").textContent = pct(b.last_30_minutes.service_level_over_offered);
    $("t-sl30-answered").textContent = pct(b.last_30_minutes.service_level_over_answered);
  }
  if (b.tickets) $("t-tickets").textContent = `${b.tickets.overdue} / ${b.tickets.supervised}`;
  if (b.callbacks_pending != null) $("t-callbacks").textContent = String(b.callbacks_pending);
  rows("wb-skills", Object.entries(b.skills).map(([name, s]) => ({
    cells: [name, String(s.waiting), `${Math.round(s.longest_wait_seconds)} 秒`, String(s.offered), String(s.answered),
      String(s.answered_in_service_level), pct(s.service_level_over_offered), String(s.abandoned),
      String(s.pbx_lost)],
    className: s.longest_wait_seconds > sl ? "late" : "",
  })));
  rows("wb-agents", b.agents.map((a) => ({
    cells: [a.id, a.name, (STATES[a.state] || a.state) + (a.state === "paused" && a.reason ? ` (${QUEUE_REASONS[a.reason] || a.reason})` : ""), clock(a.seconds_in_state)],
    className: `agent-${a.state}`,
  })));
  if (typeof spyButtons === "function") spyButtons(b.agents);  // spy.js: listen, whisper, barge
  $("wb-agent-counts").textContent = Object.entries(b.agents_by_state).map(([s, n]) => `${STATES[s] || s} ${n}`).join(" · ");
  if (b.calls_per_hour) chart(b.calls_per_hour);
  hotspots(b.hotspots);
  $("problem").hidden = !b.database_error;
  $("problem").textContent = b.database_error ? `数据库暂不可用 database unavailable: ${b.database_error}` : "";
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/wallboard/socket`);
  ws.onopen = () => { wb.retry = 1000; $("link").className = "link up"; $("link").textContent = "● 在线"; };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "board") show(msg);
    else if (msg.type === "problem") { $("problem").hidden = false; $("problem").textContent = msg.message; }
  };
  ws.onclose = (event) => {
    $("link").className = "link down";
    $("link").textContent = "● 重新连接中 reconnecting";
    if (event.code === 1006 || event.code === 1011 || event.code === 1001 || event.code === 1000) {
      setTimeout(connect, wb.retry);
      wb.retry = Math.min(wb.retry * 2, 10000);
    }
  };
}

async function start() {
  const me = await fetch("/api/me");
  if (me.status === 401) { location.assign("/login?next=/wallboard"); return; }
  const who = await me.json();
  session.me = who;  // its csrf_token for the supervisor's actions (common.js request)
  $("who").textContent = who.username;
  connect();
}

start().catch((e) => { $("problem").hidden = false; $("problem").textContent = String(e); });
