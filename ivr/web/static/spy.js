// The wallboard's listen / whisper / barge: three small buttons in the row of an operator on
// a call; each rings the supervisor's own phone, which then hears the call through Asterisk's
// ChanSpy (POST /api/agents/{id}/spy, docs/wallboard.md). The line under the list says what
// happened, or why not with its id.
"use strict";

const SPY_MODES = [["listen", "监听 Listen"], ["whisper", "耳语 Whisper"], ["barge", "强插 Barge"]];

function spyLine(text, bad) {
  const line = $("spy-status");
  line.textContent = text;
  line.className = bad ? "error" : "muted";
}

async function spy(agent, mode, label) {
  spyLine(`${label} ${agent} …`, false);
  const r = await request("POST", `/api/agents/${encodeURIComponent(agent)}/spy`, { mode });
  if (r.ok) spyLine(`正在呼叫您的话机 ${r.out.phone}，接听后${label}坐席 ${agent} ringing your phone ${r.out.phone}: answer to ${mode}`, false);
  else spyLine(`${label} ${agent}: ${r.out.message} [${r.out.error_id}]`, true);
}

// after each board: the buttons in the rows of the agents on a call (rows in board order)
function spyButtons(agents) {
  const trs = $("wb-agents").querySelectorAll("tbody tr");
  agents.forEach((a, i) => {
    const td = document.createElement("td");
    td.className = "spy";
    if (a.state === "busy") {
      for (const [mode, label] of SPY_MODES) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = `spy-${mode}`;
        button.textContent = label;
        button.onclick = () => spy(a.id, mode, label).catch((e) => spyLine(String(e), true));
        td.appendChild(button);
      }
    }
    if (trs[i]) trs[i].appendChild(td);
  });
}
