// The department portal: the department's tickets, nearest deadline first, overdue and
// due-soon marked; one ticket's history; sign for (签收), reply and finish (办结), return
// (退单), ask for more working days (延期). Everything through /api/portal.
"use strict";

const portal = { me: null, chosen: null };

function query() {
  const department = new URLSearchParams(location.search).get("department");
  const q = new URLSearchParams({ state: $("p-state").value });
  if (department) q.set("department", department);
  return q;
}

async function load() {
  const out = await api("GET", "/api/portal/tickets?" + query());
  $("p-title").firstChild.textContent = `${out.department_name} 工单 `;
  $("p-count").textContent = `${out.total}`;
  const body = $("p-tickets").querySelector("tbody");
  body.replaceChildren();
  for (const t of out.tickets) {
    const tr = document.createElement("tr");
    tr.dataset.number = t.number;
    if (t.overdue) tr.className = "overdue";
    else if (t.due_soon) tr.className = "due-soon";
    const flags = [t.supervised ? "督办" : "", t.extension_requested ? `延期待批 ${t.extension_requested} 天` : ""].filter(Boolean).join(" ");
    const cells = [t.number, t.type_name, t.category_name, t.content, `${t.caller} ${t.caller_name}`,
      when(t.deadline), t.overdue ? "已超期" : String(t.working_days_left), `${t.state_name} ${flags}`.trim()];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    tr.onclick = () => show(t.number);
    body.appendChild(tr);
  }
}

function field(list, name, value) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

function fill(t) {
  portal.chosen = t;
  $("p-detail").hidden = false;
  $("d-number").textContent = t.number;
  $("d-state").textContent = t.state_name;
  const list = $("d-fields");
  list.replaceChildren();
  field(list, "类型 / 分类", `${t.type_name} · ${t.category_name}`);
  field(list, "诉求 Request", t.content);
  field(list, "地址 Address", t.address || "—");
  field(list, "来电 Caller", `${t.caller} ${t.caller_name}`.trim());
  field(list, "受理 Accepted", when(t.accepted_at));
  field(list, "时限 Deadline", `${when(t.deadline)}（剩余 ${t.working_days_left} 个工作日）`);
  if (t.reply) field(list, "答复 Reply", t.reply);
  const events = $("d-events");
  events.replaceChildren();
  for (const e of t.events) {
    const li = document.createElement("li");
    li.textContent = `${when(e.at)} ${e.actor} ${e.action}${e.note ? "：" + e.note : ""}`;
    events.appendChild(li);
  }
  const state = t.state;
  $("d-sign").disabled = state !== "dispatched";
  $("d-finish").disabled = !["dispatched", "signed", "handling"].includes(state);
  $("d-return").disabled = !["dispatched", "signed", "handling"].includes(state);
  $("d-extend").disabled = !["dispatched", "signed", "handling"].includes(state) || t.extension_requested;
}

async function show(number) {
  fill(await api("GET", `/api/portal/tickets/${encodeURIComponent(number)}?` + query()));
}

async function act(action, body) {
  if (!portal.chosen) return;
  try {
    fill(await api("POST", `/api/portal/tickets/${encodeURIComponent(portal.chosen.number)}/${action}?` + query(), body));
    await load();
  } catch (e) { /* shown */ }
}

async function start() {
  portal.me = session.me = await api("GET", "/api/me");
  $("who").textContent = portal.me.username + (portal.me.department ? ` · ${portal.me.department}` : "");
  $("p-state").onchange = () => load().catch((e) => problem(String(e)));
  $("p-refresh").onclick = () => load().catch((e) => problem(String(e)));
  $("session-logout").onclick = async () => { await api("POST", "/api/logout"); location.assign("/login"); };
  $("d-sign").onclick = () => act("sign", {});
  $("d-finish").onclick = () => act("finish", { reply: $("d-reply").value.trim() });
  $("d-return").onclick = () => act("return", { reason: $("d-reason").value.trim() });
  $("d-extend").onclick = () => act("extend", { days: Number($("d-days").value), reason: $("d-reason").value.trim() });
  await load();
  setInterval(() => load().catch(() => {}), 60000);
}

start().catch((e) => problem(String(e)));
