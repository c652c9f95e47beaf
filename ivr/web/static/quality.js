// Quality checks (质检): pick a recorded call, listen to it, score it on the form of
// config/quality.yaml, save (a re-score replaces yours); the figures per operator below.
"use strict";

const quality = { form: null, calls: [], current: null };

function cell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function seconds(s) {
  if (s === null || s === undefined) return "";
  const n = Math.round(s);
  return `${Math.floor(n / 60)}:${String(n % 60).padStart(2, "0")}`;
}

function passWords(check) {
  if (check.passed === null) return "";
  return check.passed ? "合格 passed" : "不合格 failed";
}

function mine(call) {
  return call.checks.find((c) => c.reviewer === session.me.username) || null;
}

function buildForm() {
  const box = $("q-items");
  box.replaceChildren();
  for (const item of quality.form.items) {
    const label = document.createElement("label");
    label.className = "q-item";
    const name = document.createElement("span");
    name.textContent = `${item.name}（0–${item.max}）`;
    const input = document.createElement("input");
    input.type = "number";
    input.min = "0";
    input.max = String(item.max);
    input.step = "1";
    input.required = true;
    input.name = item.code;
    input.id = `q-item-${item.code}`;
    input.oninput = total;
    const hint = document.createElement("small");
    hint.className = "muted";
    hint.textContent = item.description;
    label.append(name, input, hint);
    box.appendChild(label);
  }
  $("q-max").textContent = String(quality.form.max_total);
}

function total() {
  let sum = 0;
  for (const item of quality.form.items) sum += Number($(`q-item-${item.code}`).value || 0);
  $("q-total").textContent = String(sum);
  const mark = quality.form.pass_mark;
  $("q-pass").textContent = mark === null ? "" : `合格线 pass mark ${mark}`;
}

function showSaved(check) {
  const out = $("q-saved");
  out.replaceChildren();
  if (!check) return;
  const p = document.createElement("p");
  p.className = check.passed === false ? "error" : "ok";
  p.textContent = `已保存 ${check.total} / ${check.max_total} 分 ${passWords(check)}（${when(check.scored_at)}，${check.reviewer}）`;
  out.appendChild(p);
}

function showChecks(call) {
  const list = $("q-checks");
  list.replaceChildren();
  for (const c of call.checks) {
    const li = document.createElement("li");
    const items = c.scores.map((s) => `${s.name} ${s.points}/${s.max}`).join("，");
    li.textContent = `${c.reviewer}：${c.total}/${c.max_total} ${passWords(c)}（${items}）${c.comment ? " — " + c.comment : ""}`;
    list.appendChild(li);
  }
}

function openCall(call) {
  quality.current = call;
  $("q-detail").hidden = false;
  $("q-call").textContent = `${when(call.started_at)} · 坐席 ${call.agent} · ${call.uniqueid}`;
  $("q-audio").src = call.recording_url;
  const check = mine(call);
  for (const item of quality.form.items) {
    const s = check ? check.scores.find((x) => x.item === item.code) : null;
    $(`q-item-${item.code}`).value = s ? String(s.points) : "";
  }
  $("q-comment").value = check ? check.comment : "";
  total();
  showSaved(check);
  showChecks(call);
  for (const tr of $("q-calls").querySelectorAll("tbody tr")) tr.classList.toggle("chosen", tr.dataset.call === call.uniqueid);
}

function filterQuery() {
  const q = new URLSearchParams();
  const agent = $("q-agent").value.trim();
  if (agent) q.set("agent", agent);
  if ($("q-from").value) q.set("from", $("q-from").value);
  if ($("q-to").value) q.set("to", $("q-to").value);
  if ($("q-unchecked").checked) q.set("unchecked", "1");
  return q;
}

async function loadCalls() {
  const out = await api("GET", `/api/quality/calls?${filterQuery()}`);
  quality.calls = out.calls;
  const body = $("q-calls").querySelector("tbody");
  body.replaceChildren();
  for (const call of out.calls) {
    const tr = document.createElement("tr");
    tr.dataset.call = call.uniqueid;
    cell(tr, when(call.started_at));
    cell(tr, call.agent);
    cell(tr, call.line_name || call.skill || "");
    cell(tr, seconds(call.duration));
    const c = mine(call) || call.checks[0];
    cell(tr, c ? `${c.total}/${c.max_total}（${call.checks.length}）` : "未质检");
    tr.onclick = () => openCall(call);
    body.appendChild(tr);
  }
  $("q-empty").hidden = out.calls.length > 0;
}

async function loadOperators() {
  const q = new URLSearchParams();
  if ($("q-from").value) q.set("from", $("q-from").value);
  if ($("q-to").value) q.set("to", $("q-to").value);
  const out = await api("GET", `/api/quality/operators?${q}`);
  $("q-period").textContent = `${out.day_from} – ${out.day_to}`;
  const body = $("q-operators").querySelector("tbody");
  body.replaceChildren();
  for (const o of out.operators) {
    const tr = document.createElement("tr");
    tr.dataset.agent = o.agent;
    cell(tr, o.name ? `${o.agent} ${o.name}` : o.agent);
    cell(tr, String(o.checks));
    cell(tr, `${o.mean_total} / ${o.mean_max_total}`);
    cell(tr, `${o.passed} / ${o.failed}`);
    cell(tr, o.items.map((i) => `${i.name} ${i.mean}/${i.max}`).join("，"));
    body.appendChild(tr);
  }
}

async function save(event) {
  event.preventDefault();
  const call = quality.current;
  if (!call) return;
  const scores = {};
  for (const item of quality.form.items) scores[item.code] = Number($(`q-item-${item.code}`).value);
  try {
    const check = await api("POST", "/api/quality/checks", { uniqueid: call.uniqueid, scores, comment: $("q-comment").value });
    call.checks = [check, ...call.checks.filter((c) => c.reviewer !== check.reviewer)];
    showSaved(check);
    showChecks(call);
    const row = $("q-calls").querySelector(`tr[data-call="${CSS.escape(call.uniqueid)}"]`);
    if (row) row.lastChild.textContent = `${check.total}/${check.max_total}（${call.checks.length}）`;
    await loadOperators();
  } catch (e) { /* shown on the problem line */ }
}

async function start() {
  const me = await fetch("/api/me");
  if (me.status === 401) { location.assign("/login?next=/quality"); return; }
  session.me = await me.json();
  $("who").textContent = session.me.username;
  quality.form = await api("GET", "/api/quality/form");
  buildForm();
  $("q-form").onsubmit = save;
  $("q-filter").onsubmit = async (event) => { event.preventDefault(); await loadCalls(); await loadOperators(); };
  await loadCalls();
  await loadOperators();
}

start().catch((e) => problem(String(e)));
