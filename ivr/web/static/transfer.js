// The desk's transfer panel, while the operator talks to a caller: one click sends the caller
// to 110 / 119 / 120 / 122 (blind, or three-party with the operator staying on), or to a
// department's seat group, a sub-centre or a colleague, blind or after consulting.
// POST /api/agents/{id}/transfer; the targets from GET /api/transfers/targets.
// Uses desk.js's `desk`, `api`, `$`.
"use strict";

const xfer = { targets: [], available: false };

async function loadTargets() {
  const out = await api("GET", "/api/transfers/targets");
  xfer.available = out.available;
  xfer.targets = out.targets;
  const row = $("xfer-emergency");
  row.replaceChildren();
  const select = $("xfer-target");
  select.replaceChildren();
  for (const t of out.targets) {
    if (t.kind === "emergency") {
      for (const mode of t.modes.filter((m) => m === "blind" || m === "threeway")) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = `emergency ${mode}`;
        b.dataset.target = t.key;
        b.dataset.mode = mode;
        b.textContent = mode === "blind" ? (t.name.includes(t.key) ? t.name : `${t.key} ${t.name}`) : `${t.key} 三方`;
        b.onclick = () => transfer(t.key, mode);
        row.appendChild(b);
      }
    } else {
      const o = document.createElement("option");
      o.value = t.key;
      o.textContent = `${t.name}（${t.kind === "subcentre" ? "分中心" : "部门"}）`;
      select.appendChild(o);
    }
  }
}

// shown while the agent talks to a caller (state busy); hidden otherwise
function showTransfer(agent) {
  $("xfer").hidden = !(xfer.available && agent && agent.state === "busy");
}

async function transfer(target, mode) {
  try {
    const out = await api("POST", `/api/agents/${encodeURIComponent(desk.agent)}/transfer`, { target, mode });
    const words = { released: "已转出 transferred", conference: "三方通话中 three-way", consulting: "咨询中 consulting" };
    $("xfer-result").textContent = `${target}: ${words[out.state] || out.state}`;
    $("xfer-consulting").hidden = out.state !== "consulting";
  } catch (e) { /* shown by api() */ }
}

function chosen() {
  const colleague = $("xfer-colleague").value.trim();
  return colleague ? `agent:${colleague}` : $("xfer-target").value;
}

async function consultAction(action) {
  try {
    const out = await api("POST", `/api/agents/${encodeURIComponent(desk.agent)}/transfer/consult`, { action });
    $("xfer-result").textContent = out.state;
    $("xfer-consulting").hidden = true;
  } catch (e) { /* shown */ }
}

document.addEventListener("DOMContentLoaded", () => {
  $("xfer-blind").onclick = () => transfer(chosen(), "blind");
  $("xfer-consult").onclick = () => transfer(chosen(), "consult");
  $("xfer-threeway").onclick = () => transfer(chosen(), "threeway");
  $("xfer-join").onclick = () => consultAction("join");
  $("xfer-cancel").onclick = () => consultAction("cancel");
});
