// The reports page: pick a month, week or day; the report opens (made now, with its charts),
// its CSV (a zip of one file per table) one click away. "编辑发布" opens the report's narrative
// sections (drafted by the system), saved by a supervisor, then published and kept as
// published (/api/report-publications).
"use strict";

const STATES = { new: "系统草稿，未保存 system draft, not saved", draft: "已保存，未发布 saved, not published", published: "已发布 published" };

function show() {
  const kind = $("r-kind").value;
  for (const k of ["month", "week", "day"]) $(`r-${k}`).hidden = k !== kind;
}

function label() {
  const kind = $("r-kind").value;
  const value = $(`r-${kind}`).value;
  return kind === "week" ? value.toUpperCase() : value;
}

function chosen() {
  const l = label();
  return l ? `${$("r-kind").value}/${encodeURIComponent(l)}` : null;
}

function open(event) {
  event.preventDefault();
  const kind = $("r-kind").value;
  const l = label();
  if (!l) return;
  const base = `/api/reports/${kind}/${encodeURIComponent(l)}`;
  const li = document.createElement("li");
  const page = document.createElement("a");
  page.href = `${base}/index.html`;
  page.target = "_blank";
  page.textContent = `${kind} ${l} 报表 report`;
  const csv = document.createElement("a");
  csv.href = `${base}/report-${encodeURIComponent(l)}-csv.zip`;
  csv.textContent = "CSV（zip，先打开报表 open the report first）";
  li.append(page, " · ", csv);
  $("r-links").prepend(li);
  window.open(page.href, "_blank");
}

// the narrative of the chosen period in the panel: editable until published
function fill(p) {
  $("n-panel").hidden = false;
  $("n-period").textContent = `${p.kind} ${p.label}`;
  for (const k of ["problems", "suggestions", "solved"]) {
    $(`n-${k}`).value = p[k];
    $(`n-${k}`).readOnly = p.state === "published";
  }
  let state = STATES[p.state] || p.state;
  if (p.edited_by) state += ` · 编辑 ${p.edited_by} ${when(p.edited_at)}`;
  if (p.published_by) state += ` · 发布 ${p.published_by} ${when(p.published_at)}`;
  $("n-state").textContent = state;
  $("n-panel").dataset.state = p.state;
  $("n-save").disabled = p.state === "published";
  $("n-publish").disabled = p.state !== "draft";
  $("n-published").hidden = !p.published_url;
  if (p.published_url) $("n-published").href = p.published_url;
}

async function edit() {
  const which = chosen();
  if (!which) return;
  $("n-panel").dataset.period = which;
  fill(await api("GET", `/api/report-publications/${which}`));
}

async function save(event) {
  event.preventDefault();
  const body = {};
  for (const k of ["problems", "suggestions", "solved"]) body[k] = $(`n-${k}`).value;
  fill(await api("POST", `/api/report-publications/${$("n-panel").dataset.period}`, body));
  await list();
}

async function publish() {
  if (!confirm("发布后报表原样保存，不能再修改。发布？ Publish: the report is kept as it is now.")) return;
  fill(await api("POST", `/api/report-publications/${$("n-panel").dataset.period}/publish`));
  await list();
}

async function list() {
  const out = await api("GET", "/api/report-publications");
  const body = $("n-list").tBodies[0];
  body.replaceChildren();
  for (const p of out.publications) {
    const tr = body.insertRow();
    tr.dataset.period = `${p.kind}/${p.label}`;
    tr.insertCell().textContent = `${p.kind} ${p.label}`;
    const state = tr.insertCell();
    if (p.published_url) {
      const a = document.createElement("a");
      a.href = p.published_url;
      a.target = "_blank";
      a.textContent = STATES.published;
      state.append(a);
    } else state.textContent = STATES[p.state] || p.state;
    tr.insertCell().textContent = p.edited_by ? `${p.edited_by} ${when(p.edited_at)}` : "";
    tr.insertCell().textContent = p.published_by ? `${p.published_by} ${when(p.published_at)}` : "";
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  const now = new Date();
  $("r-month").value = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
  $("r-day").value = now.toISOString().slice(0, 10);
  $("r-kind").onchange = show;
  $("r-form").onsubmit = open;
  $("r-edit").onclick = edit;
  $("n-form").onsubmit = save;
  $("n-publish").onclick = publish;
  show();
  const me = await fetch("/api/me");
  if (me.status === 401) { location.assign("/login?next=/reports"); return; }
  session.me = await me.json();
  $("who").textContent = session.me.username;
  await list();
});
