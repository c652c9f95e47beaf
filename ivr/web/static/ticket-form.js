// The desk's ticket form (受理): filled in from the screen-pop (caller, line, the call's
// uniqueid and reserved number), categories cascading from /api/catalogue with the
// department pre-filled from the catalogue's dispatch map, and one POST /api/tickets that
// files the ticket and answers, dispatches or merges it. Uses desk.js's `desk`, `api`, `$`.
"use strict";

const form = { catalogue: null, call: null, byPath: {}, children: {} };

function option(select, value, label) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  select.appendChild(o);
  return o;
}

function fillCats(select, parent, blank) {
  select.replaceChildren();
  if (blank) option(select, "", blank);
  for (const c of form.children[parent || ""] || []) option(select, c.path, c.name);
}

// A catalogue code as people read it (物业服务, 市房产管理服务中心), for the screen-pop too.
function catalogueName(kind, code) {
  if (!form.catalogue || !code) return code;
  if (kind === "category") {
    const names = [];
    for (let path = code; path; path = (form.byPath[path] || {}).parent) {
      if (!form.byPath[path]) return code;
      names.unshift(form.byPath[path].name);
    }
    return names.join("/");
  }
  const d = form.catalogue.departments.find((x) => x.code === code);
  return d ? d.name : code;
}

function chosenCategory() {
  return $("t-cat2").value || $("t-cat1").value;
}

function preselectDepartment() {
  const cat = form.byPath[chosenCategory()];
  if (cat && cat.department) $("t-department").value = cat.department;
}

function onCat1() {
  fillCats($("t-cat2"), $("t-cat1").value, "—");
  $("t-cat2").disabled = !(form.children[$("t-cat1").value] || []).length;
  preselectDepartment();
}

function showAction() {
  const action = document.querySelector("input[name=action]:checked").value;
  $("t-reply-box").hidden = action !== "answer";
  $("t-department-box").hidden = action !== "dispatch";
  $("t-merge-box").hidden = action !== "merge";
}

async function loadCatalogue() {
  const cat = await api("GET", "/api/catalogue");
  form.catalogue = cat;
  form.children = {};
  for (const c of cat.categories) {
    form.byPath[c.path] = c;
    (form.children[c.parent || ""] = form.children[c.parent || ""] || []).push(c);
  }
  for (const t of cat.types) option($("t-type"), t.code, `${t.name}（${t.deadline_days} 个工作日）`);
  fillCats($("t-cat1"), "", "请选择 choose");
  onCat1();
  for (const d of cat.departments) option($("t-department"), d.code, d.name);
}

// The screen-pop of a new call fills the form, unless the operator is filling one in for
// the call before (then the new call waits for "New").
function fillFromPop(pop) {
  if (form.call && form.call !== pop.uniqueid && !form.filed && $("t-content").value.trim()) return;
  if (form.call === pop.uniqueid) return;
  form.call = pop.uniqueid;
  form.filed = false;
  $("t-caller").value = pop.anonymous ? "" : pop.caller;
  $("t-dialled").value = pop.line_number || pop.dialled || "12345";
  $("t-name").value = pop.caller_name || "";
  $("ticket-number").textContent = pop.ticket_number ? `No. ${pop.ticket_number}` : "";
  $("t-result").textContent = "";
  $("t-result").className = "";
  const merge = $("t-merge");
  merge.replaceChildren();
  for (const t of (pop.tickets || []).filter((x) => x.open)) {
    option(merge, t.number, `${t.number} ${catalogueName("category", t.category)} ${t.state_name}`);
  }
  // a legacy department's line: its categories first (the dispatch map says which)
  if (pop.department) {
    const match = (form.catalogue ? form.catalogue.categories : []).find((c) => c.department === pop.department);
    if (match) {
      const top = match.path.split(".")[0];
      $("t-cat1").value = top;
      onCat1();
      if (match.parent) $("t-cat2").value = match.path;
      preselectDepartment();
    }
  }
}

function clearForm() {
  $("ticket-form").reset();
  form.call = null;
  form.filed = false;
  $("ticket-number").textContent = "";
  $("t-merge").replaceChildren();
  onCat1();
  showAction();
}

async function submit(event) {
  event.preventDefault();
  const action = document.querySelector("input[name=action]:checked").value;
  const body = {
    call_uniqueid: form.call, caller: $("t-caller").value.trim(), dialled: $("t-dialled").value.trim(),
    caller_name: $("t-name").value.trim(), confidential: $("t-confidential").checked,
    type: $("t-type").value, category: chosenCategory(), content: $("t-content").value.trim(),
    address: $("t-address").value.trim(), action,
  };
  if (action === "answer") body.reply = $("t-reply").value.trim();
  if (action === "dispatch") body.department = $("t-department").value || null;
  if (action === "merge") body.merge_into = $("t-merge").value || null;
  $("t-submit").disabled = true;
  try {
    const t = await api("POST", "/api/tickets", body);
    form.filed = true;
    const where = t.merged_into ? ` → ${t.merged_into}` : t.department_name ? ` → ${t.department_name}` : "";
    $("t-result").textContent = `工单 ${t.number} ${t.state_name}${where}（时限 ${when(t.deadline)}）`;
    $("t-result").className = "ok";
    $("ticket-number").textContent = `No. ${t.number}`;
    if (typeof loadTasks === "function" && t.state === "finished") loadTasks().catch(() => {});  // its 回访
  } catch (e) { /* shown by api() */ } finally {
    $("t-submit").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("t-cat1").onchange = onCat1;
  $("t-cat2").onchange = preselectDepartment;
  for (const r of document.querySelectorAll("input[name=action]")) r.onchange = showAction;
  $("ticket-form").onsubmit = submit;
  $("t-new").onclick = clearForm;
  showAction();
});
