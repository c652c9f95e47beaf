// The desk's callback tasks: 回访 (follow-ups), 漏接回拨 (missed calls), 留言 (voice
// messages), oldest first. 拨打 rings the operator's own phone, then the citizen
// (POST /api/agents/{id}/call); 完成 / 未接通 record what came of it. Uses desk.js's
// `desk`, `api`, `$`, `when`.
"use strict";

const callbacks = { chosen: null };

async function loadTasks() {
  const out = await api("GET", "/api/callbacks?open=1&limit=50");
  $("cb-count").textContent = `${out.total}`;
  const body = $("cb-tasks").querySelector("tbody");
  body.replaceChildren();
  for (const t of out.tasks) {
    const tr = document.createElement("tr");
    tr.dataset.task = String(t.id);
    for (const text of [t.kind_name, t.ref, t.caller, when(t.created_at), String(t.attempts)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    const td = document.createElement("td");
    const call = document.createElement("button");
    call.type = "button";
    call.className = "cb-call";
    call.textContent = "拨打 Call";
    call.onclick = () => clickToCall(t);
    const close = document.createElement("button");
    close.type = "button";
    close.className = "cb-close";
    close.textContent = "登记 Record";
    close.onclick = () => choose(t);
    td.append(call, close);
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

async function clickToCall(task) {
  if (!desk.agent) return;
  try {
    const out = await api("POST", `/api/agents/${encodeURIComponent(desk.agent)}/call`, { task_id: task.id });
    choose(task);
    $("cb-which").textContent = out.status === "ANSWER"
      ? `正在呼叫 ${out.number} calling the citizen`
      : `坐席电话未接通 your phone did not answer (${out.status})`;
  } catch (e) { /* shown by api() */ }
}

function choose(task) {
  callbacks.chosen = task;
  $("cb-form").hidden = false;
  $("cb-which").textContent = `${task.kind_name} ${task.ref} · ${task.caller}`;
  $("cb-satisfaction-box").hidden = task.kind !== "visit";
  $("cb-result").focus();
}

async function record(done) {
  const task = callbacks.chosen;
  if (!task) return;
  const body = { result: $("cb-result").value.trim() };
  if (done && task.kind === "visit") body.satisfaction = Number($("cb-satisfaction").value);
  try {
    await api("POST", `/api/callbacks/${task.id}/${done ? "done" : "attempt"}`, body);
    $("cb-form").reset();
    $("cb-form").hidden = true;
    callbacks.chosen = null;
    await loadTasks();
  } catch (e) { /* shown by api() */ }
}

document.addEventListener("DOMContentLoaded", () => {
  $("cb-refresh").onclick = () => loadTasks().catch((e) => problem(String(e)));
  $("cb-form").onsubmit = (event) => { event.preventDefault(); record(true); };
  $("cb-attempt").onclick = () => record(false);
  $("cb-cancel").onclick = () => { $("cb-form").hidden = true; callbacks.chosen = null; };
});
