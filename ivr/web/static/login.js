// The login page: POST /api/login as JSON, then on to the page the account's role uses.
"use strict";
const HOME = { operator: "/desk", supervisor: "/wallboard", admin: "/admin", department: "/portal" };

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.hidden = true;
  const body = {
    username: document.getElementById("username").value,
    password: document.getElementById("password").value,
  };
  let answer;
  try {
    answer = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (e) {
    error.textContent = "无法连接服务器 The server cannot be reached";
    error.hidden = false;
    return;
  }
  const out = await answer.json();
  if (!answer.ok) {
    error.textContent = `${out.message} [${out.error_id}]`;
    error.hidden = false;
    return;
  }
  const next = new URLSearchParams(location.search).get("next");
  location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : HOME[out.role] || "/desk");
});
