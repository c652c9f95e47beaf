// The desk's knowledge base (常用提示): searched as the operator types (GET /api/knowledge?q=),
// the matched words marked (as text: the spans the server gives, never its HTML); an
// operator proposes a new entry (POST /api/knowledge), a supervisor approves it.
// Uses desk.js's `desk`, `api`, `$`.
"use strict";

const kb = { timer: null, asked: "" };

function marked(text, spans) {
  const out = document.createDocumentFragment();
  let at = 0;
  for (const [start, end] of spans || []) {
    if (start > at) out.append(text.slice(at, start));
    const m = document.createElement("mark");
    m.textContent = text.slice(start, end);
    out.append(m);
    at = end;
  }
  out.append(text.slice(at));
  return out;
}

async function searchKnowledge() {
  const q = $("kb-q").value.trim();
  kb.asked = q;
  const list = $("kb-hits");
  if (!q) { list.replaceChildren(); return; }
  const out = await api("GET", `/api/knowledge?q=${encodeURIComponent(q)}&limit=8`);
  if (kb.asked !== q) return;  // a newer search is on its way
  list.replaceChildren();
  for (const hit of out.hits) {
    const li = document.createElement("li");
    const title = document.createElement("div");
    title.className = "kb-title";
    title.append(marked(hit.entry.title, hit.title_marks));
    if (hit.entry.phone) title.append(`  ☎ ${hit.entry.phone}`);
    const body = document.createElement("div");
    body.append(marked(hit.snippet, hit.marks));
    li.append(title, body);
    list.appendChild(li);
  }
  if (!out.hits.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "没有找到 Nothing found";
    list.appendChild(li);
  }
}

async function propose(event) {
  event.preventDefault();
  const body = {
    title: $("kb-title").value.trim(), body: $("kb-body").value.trim(),
    tags: $("kb-tags").value.split(/\s+/).filter(Boolean),
  };
  try {
    const entry = await api("POST", "/api/knowledge", body);
    $("kb-proposed").textContent = entry.state === "approved" ? "已发布 published" : "已提交，待班长审核 sent for approval";
    $("kb-propose").reset();
  } catch (e) { /* shown by api() */ }
}

document.addEventListener("DOMContentLoaded", () => {
  $("kb-q").addEventListener("input", () => {
    clearTimeout(kb.timer);
    kb.timer = setTimeout(() => searchKnowledge().catch(() => {}), 150);
  });
  $("kb-propose").onsubmit = propose;
});
