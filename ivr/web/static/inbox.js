// The operators' inbox (待办受理): GET /api/inbox, the accepted tickets waiting (web requests,
// items forwarded by upper-level platforms, any accepted ticket left), nearest deadline first,
// a tab per channel with its count. Each row: answer directly (直接办结, with the reply),
// dispatch (派单, the dispatch map's department chosen), merge (并单) into a ticket named, and
// its likely duplicates with a one-click merge of the newer into the older.
"use strict";

const REASONS = { same_caller: "同一号码", same_address: "同一地址、同一分类" };
const inbox = { source: "", departments: [] };

function cell(tr, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  tr.appendChild(td);
  return td;
}

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function confirm(text) { $("i-done").textContent = text; }

function emptied() {
  $("i-empty").hidden = $("i-list").querySelector("tbody").children.length > 0;
}

function duplicates(t) {
  const ul = el("ul", "", "dups");
  for (const d of t.duplicates) {
    const li = el("li");
    li.dataset.number = d.number;
    const why = d.reasons.map((r) => REASONS[r] || r).join("、");
    li.append(el("b", d.number), ` ${d.state_name} · ${d.source_name} · ${when(d.accepted_at)} · ${why}：${d.content}`);
    if (d.can_merge) {
      li.append(" ", button(`并单 ${d.merge_from} → ${d.merge_into}`, "act-merge-dup", () =>
        act(`/api/inbox/${encodeURIComponent(d.merge_from)}/merge`, { into: d.merge_into },
          (out) => `已并单：工单 ${d.merge_from} 并入 ${d.merge_into}`)));
    }
    ul.appendChild(li);
  }
  return ul;
}

function actions(td, t) {
  const reply = el("textarea", "", "reply");
  reply.maxLength = 4000;
  reply.placeholder = "答复内容 reply";
  const line1 = el("div", "", "line");
  line1.append(reply, button("直接办结 Answer", "act-answer", () =>
    act(`/api/inbox/${encodeURIComponent(t.number)}/answer`, { reply: reply.value.trim() },
      (out) => `已直接办结：工单 ${out.number}`)));
  const select = el("select", "", "dept");
  select.append(new Option("选择承办单位 department…", ""));
  for (const d of inbox.departments) select.append(new Option(d.name, d.code, false, d.code === t.department));
  const line2 = el("div", "", "line");
  line2.append(select, button("派单 Dispatch", "act-dispatch", () =>
    act(`/api/inbox/${encodeURIComponent(t.number)}/dispatch`, { department: select.value || null },
      (out) => `已派单：工单 ${out.number} → ${out.department_name}`)));
  const into = el("input", "", "into");
  into.maxLength = 20;
  into.placeholder = "并入工单号 into";
  const line3 = el("div", "", "line");
  line3.append(into, button("并单 Merge", "act-merge", () =>
    act(`/api/inbox/${encodeURIComponent(t.number)}/merge`, { into: into.value.trim() },
      (out) => `已并单：工单 ${out.number} 并入 ${out.merged_into}`)));
  td.append(line1, line2, line3);
}

function row(t) {
  const tr = document.createElement("tr");
  tr.dataset.number = t.number;
  if (t.overdue) tr.className = "overdue";
  else if (t.due_soon) tr.className = "due-soon";
  cell(tr, t.number, "number");
  const src = cell(tr, "", "source");
  src.append(el("span", t.source_name, `badge ${t.source_kind}`), el("div", t.received_at ? `收到 ${when(t.received_at)}` : "", "meta"),
    el("div", `受理 ${when(t.accepted_at)}`, "meta"), el("div", t.external_id ? `编号 ${t.external_id}` : "", "meta"));
  const req = cell(tr, "", "request");
  req.append(el("p", t.content, "content"));
  const caller = `${t.caller_name ? t.caller_name + " " : ""}${t.caller}`;
  const meta = el("div", `${t.type_name} · ${t.category_name}${t.address ? " · " + t.address : ""} · ${caller}`, "meta");
  req.append(meta);
  if (t.confidential) req.append(el("span", "保密 confidential", "badge secret"));
  cell(tr, `${when(t.deadline)}${t.overdue ? " · 已超期" : t.due_soon ? " · 即将超期" : ""}`, "deadline");
  cell(tr, "", "duplicates").appendChild(duplicates(t));
  actions(cell(tr, "", "actions"), t);
  return tr;
}

async function act(path, body, done) {
  confirm("");
  try {
    const out = await api("POST", path, body);
    confirm(done(out));
    await load();
  } catch (e) { /* on the problem line */ }
}

function tabs(out) {
  const nav = $("i-tabs");
  $("c-all").textContent = String(out.sources.reduce((n, s) => n + s.waiting, 0));
  for (const s of out.sources) {
    let tab = nav.querySelector(`button[data-source="${s.code}"]`);
    if (!tab) {
      tab = el("button");
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.dataset.source = s.code;
      tab.append(`${s.name} `, el("span", "", "count"));
      tab.querySelector(".count").id = `c-${s.code}`;
      tab.onclick = () => { confirm(""); inbox.source = s.code; load().catch(shown); };
      nav.appendChild(tab);
    }
    tab.querySelector(".count").textContent = String(s.waiting);
  }
  for (const tab of nav.querySelectorAll("button")) {
    tab.classList.toggle("chosen", tab.dataset.source === inbox.source);
    tab.setAttribute("aria-selected", String(tab.dataset.source === inbox.source));
  }
}

async function load() {
  const query = inbox.source ? `?source=${encodeURIComponent(inbox.source)}` : "";
  const out = await api("GET", `/api/inbox${query}`);
  $("i-days").textContent = String(out.duplicate_days);
  tabs(out);
  $("i-list").querySelector("tbody").replaceChildren(...out.tickets.map(row));
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
  $("i-tabs").querySelector("button[data-source='']").onclick = () => { confirm(""); inbox.source = ""; load().catch(shown); };
  $("i-refresh").onclick = () => load().catch(shown);
  inbox.departments = (await api("GET", "/api/catalogue")).departments;
  await load();
}

start().catch(shown);
