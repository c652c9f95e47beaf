// The admin console's accounts: list, add, reset a password, disable / enable, change a role
// and binding. Every change through /api/users (checked, audited, sessions ended).
"use strict";

const users = { me: null };
const ROLE_NAMES = { operator: "坐席", supervisor: "班长", department: "承办单位", admin: "管理员" };

async function load() {
  const list = await api("GET", "/api/users");
  const body = $("u-list").querySelector("tbody");
  body.replaceChildren();
  for (const u of list) {
    const tr = document.createElement("tr");
    tr.dataset.user = u.username;
    if (u.disabled) tr.className = "disabled";
    for (const text of [u.username, u.display_name, ROLE_NAMES[u.role] || u.role, u.agent_id || u.department || "",
      u.disabled ? "已停用 disabled" : "正常 enabled", u.last_login_at ? u.last_login_at.replace("T", " ").slice(0, 16) : ""]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    const td = document.createElement("td");
    const name = encodeURIComponent(u.username);
    td.append(
      button(u.disabled ? "启用 Enable" : "停用 Disable", "u-toggle", async () => {
        await api("POST", `/api/users/${name}/${u.disabled ? "enable" : "disable"}`); await load();
      }),
      button("重置密码 Reset password", "u-password", async () => {
        const password = prompt(`${u.username} 的新密码（至少 10 个字符）`);
        if (password) { await api("POST", `/api/users/${name}/password`, { password }); $("u-result").textContent = `${u.username} 的密码已重置，其登录已失效`; }
      }),
    );
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

async function add(event) {
  event.preventDefault();
  const role = $("u-role").value;
  const binding = $("u-binding").value.trim() || null;
  const body = { username: $("u-name").value.trim(), display_name: $("u-display").value.trim(),
    role, password: $("u-password").value,
    agent_id: role === "operator" ? binding : null, department: role === "department" ? binding : null };
  try {
    const u = await api("POST", "/api/users", body);
    $("u-result").textContent = `已新增 ${u.username}（${ROLE_NAMES[u.role]}）`;
    $("u-add").reset();
    await load();
  } catch (e) { /* shown */ }
}

async function start() {
  const me = await fetch("/api/me");
  if (me.status === 401) { location.assign("/login?next=/users"); return; }
  users.me = session.me = await me.json();
  $("who").textContent = users.me.username;
  $("u-add").onsubmit = add;
  $("session-logout").onclick = async () => { await api("POST", "/api/logout"); location.assign("/login"); };
  await load();
}

start().catch((e) => problem(String(e)));
