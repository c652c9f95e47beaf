// What every staff page shares: an element by id, the page's problem line, the JSON API
// with the session's CSRF token (a lost session goes to the login page and back), and a
// moment as people read it in the centre's zone. Loaded before each page's own script.
"use strict";

// the logged-in account (GET /api/me: its csrf_token) and the centre's zone
const session = { me: null, timezone: "Asia/Shanghai" };

function $(id) { return document.getElementById(id); }

function problem(text) {
  const p = $("problem");
  p.textContent = text || "";
  p.hidden = !text;
}

// The answer as {ok, status, out}; a lost session goes to the login page.
async function request(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (method !== "GET" && session.me && session.me.csrf_token) headers["X-CSRF-Token"] = session.me.csrf_token;
  const answer = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (answer.status === 401) {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new Error("not logged in");
  }
  return { ok: answer.ok, status: answer.status, out: await answer.json() };
}

// The answer's body; a refusal is shown on the problem line (with its id) and thrown.
async function api(method, path, body) {
  const r = await request(method, path, body);
  if (!r.ok) {
    problem(`${r.out.message} [${r.out.error_id}]`);
    throw new Error(r.out.error_id);
  }
  problem("");
  return r.out;
}

// A moment as people read it: in the centre's zone (queue.yaml's timezone, Beijing time).
function when(iso) {
  if (!iso) return "";
  const parts = new Intl.DateTimeFormat("zh-CN", {
    timeZone: session.timezone, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).formatToParts(new Date(iso));
  const v = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  return `${v.year}-${v.month}-${v.day} ${v.hour}:${v.minute}`;
}

// a button of a row or a form: its label, class and what a click does
function button(label, className, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.className = className;
  b.onclick = onclick;
  return b;
}
