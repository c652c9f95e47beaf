// The citizens' pages: the request form and the lookup. Text is put in with textContent only.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let token = "";

  function problem(text) {
    const p = $("problem");
    p.textContent = text || "";
    p.hidden = !text;
  }

  async function loadForm() {
    const r = await fetch("/api/citizen/form", { credentials: "same-origin" });
    const body = await r.json();
    if (!r.ok) throw new Error(`${body.message} (${body.error_id})`);
    token = body.form_token;
    return body;
  }

  async function post(path, data) {
    const r = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Form-Token": token },
      body: JSON.stringify(data),
    });
    let body = {};
    try { body = await r.json(); } catch (_) { body = { message: "服务器没有回答", error_id: "" }; }
    return { ok: r.ok, status: r.status, body };
  }

  // the API's message is Chinese, then " / " and English for programs: the page shows the first
  function say(result) {
    const b = result.body;
    const text = (b.message || "出错了，请稍后再试").split(" / ")[0];
    problem(`${text} (${b.error_id || result.status})`);
  }

  function option(select, code, name) {
    const o = document.createElement("option");
    o.value = code;
    o.textContent = name;
    select.append(o);
  }

  function local(iso) {
    return iso ? iso.slice(0, 16).replace("T", " ") : "";
  }

  async function submitPage() {
    const form = await loadForm();
    for (const t of form.types) option($("c-type"), t.code, t.name);
    option($("c-category"), "", "不清楚（由热线分类）");
    for (const c of form.categories) option($("c-category"), c.code, c.name);
    const content = $("c-content");
    content.addEventListener("input", () => {
      $("c-count").textContent = `${content.value.length} / ${form.content_max}`;
    });
    $("submit-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      problem("");
      const data = {
        phone: $("c-phone").value.trim(),
        name: $("c-name").value.trim(),
        type: $("c-type").value,
        category: $("c-category").value,
        address: $("c-address").value.trim(),
        content: content.value.trim(),
        confidential: $("c-confidential").checked,
      };
      if (!data.phone || !data.content) {
        problem("请填写电话号码和诉求内容");
        return;
      }
      $("c-send").disabled = true;
      try {
        const r = await post("/api/citizen/requests", data);
        if (!r.ok) { say(r); $("c-send").disabled = false; return; }  // the form keeps it all
        $("r-number").textContent = r.body.number;
        $("r-deadline").textContent = local(r.body.deadline);
        $("r-lookup").href = `/lookup?number=${encodeURIComponent(r.body.number)}`;
        // what was sent stays in view, read-only, above its number (a new request: reload)
        for (const el of $("submit-form").elements) el.disabled = true;
        $("receipt").hidden = false;
        $("receipt").scrollIntoView();
      } catch (e) {
        problem(`网络中断，您的诉求没有提交成功，请稍后重试 (${e.message})`);
        $("c-send").disabled = false;
      }
    });
  }

  async function lookupPage() {
    await loadForm();
    const asked = new URLSearchParams(location.search).get("number");
    if (asked) $("l-number").value = asked;
    $("lookup-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      problem("");
      $("result").hidden = true;
      const data = { number: $("l-number").value.trim(), phone: $("l-phone").value.trim() };
      if (!data.number || !data.phone) {
        problem("请填写工单号和电话号码");
        return;
      }
      const r = await post("/api/citizen/lookup", data);
      if (!r.ok) { say(r); return; }
      const t = r.body;
      $("o-number").textContent = t.number;
      $("o-state").textContent = t.state_words;
      $("o-type").textContent = t.type_name;
      $("o-category").textContent = t.category_name;
      $("o-accepted").textContent = local(t.accepted_at);
      for (const id of ["o-merged-label", "o-merged"]) $(id).hidden = !t.merged_into;
      $("o-merged").textContent = t.merged_into || "";
      for (const id of ["o-finished-label", "o-finished"]) $(id).hidden = !t.finished_at;
      $("o-finished").textContent = local(t.finished_at);
      $("o-reply-box").hidden = !t.reply;
      $("o-reply").textContent = t.reply;
      $("result").hidden = false;
    });
  }

  document.addEventListener("input", () => problem(""));  // a correction clears the refusal
  const page = document.body.dataset.page;
  (page === "submit" ? submitPage() : lookupPage()).catch((e) => problem(`页面加载失败：${e.message}`));
})();
