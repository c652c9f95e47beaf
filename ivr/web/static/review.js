// The supervisors' review (督办审核): the lists of /api/supervision (extension requests,
// returned tickets, supervised, overdue, dissatisfied follow-ups) and the knowledge base's
// proposals, each a tab with its count; every row with the actions the API offers. After an
// action that settles a row it leaves the list; a confirmation line says what was done.
"use strict";

const REASONS = { overdue: "超期", repeated: "重复诉求未解决", manual: "人工督办" };
const SATISFACTION = { 5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意" };
// per list: what it is for, and its actions (leaves: the row leaves the list afterwards)
const VIEWS = {
  extensions: {
    hint: "承办单位申请延期：批准后时限顺延所申请的工作日；驳回请写明理由。申请人本人不能审批。",
    actions: [
      { path: "extend-approve", label: "批准延期 Approve", leaves: true, done: (t) => `已批准延期：工单 ${t.number}，新时限 ${when(t.deadline)}（剩余 ${t.working_days_left} 个工作日）` },
      { path: "extend-reject", label: "驳回 Refuse", leaves: true, done: (t) => `已驳回延期：工单 ${t.number}，时限仍为 ${when(t.deadline)}` },
    ],
  },
  returned: {
    hint: "承办单位退回的工单：核实后改派给正确的承办单位。",
    actions: [
      { path: "redispatch", label: "改派 Re-dispatch", leaves: true, department: true, done: (t, dept) => `已改派：工单 ${t.number} → ${dept}（${t.state_name}）` },
    ],
  },
  supervised: {
    hint: "督办中的工单（超期、重复诉求未解决或人工督办）：可催办承办单位，催办次数计入工单。",
    actions: [
      { path: "remind", label: "催办 Remind", leaves: false, done: (t) => `已催办：工单 ${t.number}（第 ${t.reminders} 次）` },
    ],
  },
  overdue: {
    hint: "超出办理时限仍未办结的工单：可催办，或列入督办。",
    actions: [
      { path: "remind", label: "催办 Remind", leaves: false, done: (t) => `已催办：工单 ${t.number}（第 ${t.reminders} 次）` },
      { path: "supervise", label: "督办 Supervise", leaves: false, unless: (t) => t.supervised, done: (t) => `已督办：工单 ${t.number}` },
    ],
  },
  dissatisfied: {
    hint: "回访不满意或问题未解决的工单：重办（重新派给承办单位，计入重办次数）。",
    actions: [
      { path: "redo", label: "重办 Redo", leaves: true, done: (t) => `已重办：工单 ${t.number}（${t.state_name}）` },
    ],
  },
  knowledge: { hint: "坐席提议的知识库条目：批准后坐席即可检索；驳回请写明理由。" },
};
const review = { view: "extensions", departments: [] };

function cell(tr, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  tr.appendChild(td);
  return td;
}

function button(label, className, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.className = className;
  b.onclick = onclick;
  return b;
}

function noteInput(placeholder) {
  const input = document.createElement("input");
  input.className = "note";
  input.maxLength = 500;
  input.placeholder = placeholder;
  return input;
}

// why a ticket is on this list, in the words of the one who put it there
function why(view, item) {
  const t = item.ticket;
  const said = item.why ? `：${item.why}` : "";
  if (view === "extensions") return `申请延期 ${t.extension_requested} 个工作日${said}`;
  if (view === "returned") return `退单${said}（第 ${t.returns} 次）`;
  if (view === "dissatisfied") {
    const level = SATISFACTION[item.satisfaction] || "未评价";
    return `${level}${item.solved === false ? "，问题未解决" : ""}${said}`;
  }
  const reasons = item.reasons.map((r) => REASONS[r] || r).join("、");
  const flags = [reasons, t.supervised && !reasons ? "督办" : "", t.reminders ? `已催办 ${t.reminders} 次` : ""];
  return flags.filter(Boolean).join("；");
}

function deadline(t) {
  return `${when(t.deadline)} · ${t.overdue ? "已超期" : `剩余 ${t.working_days_left} 个工作日`}`;
}

function confirm(text) {
  $("r-done").textContent = text;
}

async function counts() {
  const out = await api("GET", "/api/supervision/counts");
  for (const [view, n] of Object.entries(out)) $(`c-${view}`).textContent = String(n);
  const kb = await api("GET", "/api/knowledge?state=proposed&limit=50");
  $("c-knowledge").textContent = kb.hits.length >= 50 ? "50+" : String(kb.hits.length);
}

function emptied() {
  const rows = document.querySelectorAll(review.view === "knowledge" ? "#r-proposals tbody tr" : "#r-list tbody tr");
  $("r-empty").hidden = rows.length > 0;
}

function ticketRow(view, item) {
  const t = item.ticket;
  const tr = document.createElement("tr");
  tr.dataset.number = t.number;
  if (t.overdue) tr.className = "overdue";
  else if (t.due_soon) tr.className = "due-soon";
  cell(tr, t.number);
  cell(tr, `${t.type_name} · ${t.category_name}：${t.content}`, "content");
  cell(tr, item.department_name || "—", "dept-name");
  cell(tr, deadline(t), "deadline");
  cell(tr, why(view, item), "why");
  const td = cell(tr, "", "actions");
  let select = null;
  if (VIEWS[view].actions.some((a) => a.department)) {
    select = document.createElement("select");
    select.className = "dept";
    select.append(new Option("选择承办单位 department…", ""));
    for (const d of review.departments) if (d.code !== item.department) select.append(new Option(d.name, d.code));
    td.appendChild(select);
  }
  const note = noteInput("说明 note");
  td.appendChild(note);
  for (const action of VIEWS[view].actions) {
    if (action.unless && action.unless(t)) continue;
    td.appendChild(button(action.label, `act-${action.path}`, () => act(view, tr, item, action, note, select)));
  }
  return tr;
}

async function act(view, tr, item, action, note, select) {
  const body = { note: note.value.trim() };
  if (action.department) body.department = select.value;
  confirm("");
  try {
    const t = await api("POST", `/api/supervision/tickets/${encodeURIComponent(item.ticket.number)}/${action.path}`, body);
    const name = select ? select.options[select.selectedIndex].text : "";
    confirm(action.done(t, name));
    if (action.leaves) tr.remove();
    else tr.replaceWith(ticketRow(view, { ...item, ticket: t }));
    emptied();
    await counts();
  } catch (e) { /* on the problem line */ }
}

function proposalRow(hit) {
  const e = hit.entry;
  const tr = document.createElement("tr");
  tr.dataset.entry = String(e.id);
  cell(tr, e.title, "title");
  const extra = e.kind === "phone" ? `（电话 ${e.phone || ""}${e.department ? " · " + e.department : ""}）` : "";
  cell(tr, e.body + extra, "body");
  cell(tr, `${e.proposed_by} · ${when(e.proposed_at)}`);
  const td = cell(tr, "", "actions");
  const note = noteInput("说明（驳回必填）note");
  td.append(note,
    button("批准 Approve", "act-approve", () => decide(tr, e, "approve", note)),
    button("驳回 Reject", "act-reject", () => decide(tr, e, "reject", note)));
  return tr;
}

async function decide(tr, entry, verb, note) {
  const text = note.value.trim();
  confirm("");
  try {
    await api("POST", `/api/knowledge/${entry.id}/${verb}`, text ? { note: text } : {});
    confirm(`${verb === "approve" ? "已批准" : "已驳回"}知识条目「${entry.title}」`);
    tr.remove();
    emptied();
    await counts();
  } catch (e) { /* on the problem line */ }
}

async function show(view) {
  review.view = view;
  for (const tab of document.querySelectorAll("#r-tabs button")) {
    tab.classList.toggle("chosen", tab.dataset.view === view);
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  }
  $("r-hint").textContent = VIEWS[view].hint;
  $("r-tickets").hidden = view === "knowledge";
  $("r-knowledge").hidden = view !== "knowledge";
  if (view === "knowledge") {
    const out = await api("GET", "/api/knowledge?state=proposed&limit=50");
    $("r-proposals").querySelector("tbody").replaceChildren(...out.hits.map(proposalRow));
  } else {
    const out = await api("GET", `/api/supervision/tickets?view=${view}`);
    $("r-list").querySelector("tbody").replaceChildren(...out.items.map((item) => ticketRow(view, item)));
  }
  emptied();
}

// a refusal is already on the problem line (with its id); anything else goes there
function shown(e) {
  if ($("problem").hidden) problem(String(e));
}

async function start() {
  session.me = await api("GET", "/api/me");
  $("who").textContent = session.me.username;
  $("session-logout").onclick = async () => { await api("POST", "/api/logout"); location.assign("/login"); };
  for (const tab of document.querySelectorAll("#r-tabs button")) {
    tab.onclick = () => { confirm(""); show(tab.dataset.view).catch(shown); };
  }
  $("r-refresh").onclick = () => Promise.all([counts(), show(review.view)]).catch(shown);
  await counts();
  review.departments = (await api("GET", "/api/catalogue")).departments;
  const asked = new URLSearchParams(location.search).get("view");
  await show(asked in VIEWS ? asked : "extensions");
  setInterval(() => counts().catch(() => {}), 60000);  // the counts only: a note being typed stays
}

start().catch(shown);
