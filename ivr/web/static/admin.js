// The admin console's config editor: a file with line numbers, checked by the server as
// `hotline check-config` checks it (each problem at its line and column; a click goes there),
// saved only when the whole config is valid and the file has not changed on disk since it
// was opened (else the difference is shown); each older version one click from a rollback.
"use strict";

const admin = { me: null, name: null, version: null };

function gutter() {
  const n = $("a-text").value.split("\n").length;
  $("a-gutter").textContent = Array.from({ length: n }, (_, i) => String(i + 1)).join("\n");
  $("a-gutter").scrollTop = $("a-text").scrollTop;
}

function goTo(line, column) {
  const text = $("a-text");
  const lines = text.value.split("\n");
  let at = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
  at += Math.max(0, column - 1);
  text.focus();
  text.setSelectionRange(at, at);
  const lineHeight = parseFloat(getComputedStyle(text).lineHeight) || 18;
  text.scrollTop = Math.max(0, (line - 5) * lineHeight);
  gutter();
}

function showProblems(list) {
  const ol = $("a-problems");
  ol.replaceChildren();
  $("a-count").textContent = list.length ? `${list.length}` : "无 none";
  for (const p of list) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "#";
    a.className = "where";
    a.textContent = `${p.file}:${p.line}:${p.column}`;
    a.onclick = (e) => { e.preventDefault(); if (p.file === admin.name) goTo(p.line, p.column); };
    li.append(a, ` ${p.message} [${p.code}]`);
    ol.appendChild(li);
  }
}

async function open(name) {
  const r = await request("GET", `/api/config/file?name=${encodeURIComponent(name)}`);
  if (!r.ok) { problem(`${r.out.message} [${r.out.error_id}]`); return; }
  admin.name = name;
  admin.version = r.out.version;
  $("a-text").value = r.out.text;
  $("a-diff").textContent = "";
  showProblems([]);
  $("a-count").textContent = "";
  $("a-status").textContent = `${name} · 版本 ${r.out.version.slice(0, 12)}`;
  gutter();
  await loadHistory();
}

async function check() {
  const r = await request("POST", "/api/config/check", { name: admin.name, text: $("a-text").value });
  if (!r.ok) { problem(`${r.out.message} [${r.out.error_id}]`); return; }
  problem("");
  showProblems(r.out.problems);
}

async function afterSave(r) {
  if (r.ok) {
    problem("");
    showProblems([]);
    admin.version = r.out.version;
    $("a-diff").textContent = r.out.diff;
    // the text as saved (a rollback's is the older version's)
    const saved = await request("GET", `/api/config/file?name=${encodeURIComponent(admin.name)}`);
    if (saved.ok && saved.out.version === admin.version) $("a-text").value = saved.out.text;
    gutter();
    $("a-status").textContent = r.out.reloaded
      ? `已保存并生效 saved and running (${r.out.running})` : `已保存，重新加载未成功 saved, reload refused: ${r.out.problems.join("; ")}`;
    await loadHistory();
    return;
  }
  problem(`${r.out.message} [${r.out.error_id}]`);
  if (r.out.error_id === "HL-WEB-017") showProblems(r.out.details.problems);
  if (r.out.error_id === "HL-WEB-016") $("a-diff").textContent = r.out.details.diff;
}

async function save() {
  await afterSave(await request("POST", "/api/config/file", { name: admin.name, text: $("a-text").value, version: admin.version }));
}

async function loadHistory() {
  const r = await request("GET", `/api/config/history?name=${encodeURIComponent(admin.name)}`);
  const body = $("a-history").querySelector("tbody");
  body.replaceChildren();
  for (const v of r.ok ? r.out : []) {
    const tr = document.createElement("tr");
    for (const text of [v.at.replace("T", " ").slice(0, 19) + " UTC", `${v.size} B`]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "rollback";
    button.textContent = "恢复此版本 Roll back";
    button.onclick = async () => afterSave(await request("POST", "/api/config/rollback",
      { name: admin.name, version_id: v.id, version: admin.version }));
    td.appendChild(button);
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

async function start() {
  const me = await fetch("/api/me");
  if (me.status === 401) { location.assign("/login?next=/admin"); return; }
  admin.me = session.me = await me.json();
  $("who").textContent = admin.me.username;
  const files = await request("GET", "/api/config/files");
  if (!files.ok) { problem(`${files.out.message} [${files.out.error_id}]`); return; }
  for (const f of files.out) {
    const o = document.createElement("option");
    o.value = f.name;
    o.textContent = f.name;
    $("a-file").appendChild(o);
  }
  $("a-file").onchange = () => open($("a-file").value);
  $("a-text").addEventListener("input", gutter);
  $("a-text").addEventListener("scroll", () => { $("a-gutter").scrollTop = $("a-text").scrollTop; });
  $("a-check").onclick = check;
  $("a-save").onclick = save;
  $("session-logout").onclick = async () => { await request("POST", "/api/logout"); location.assign("/login"); };
  const wanted = new URLSearchParams(location.search).get("file");
  await open(wanted && files.out.some((f) => f.name === wanted) ? wanted : files.out[0].name);
  $("a-file").value = admin.name;
}

start().catch((e) => problem(String(e)));
