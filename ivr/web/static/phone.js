// The desk's browser phone (docs/webrtc.md): JsSIP (static/vendor, pinned) registered over a
// WebSocket to Asterisk as the agent's webrtc endpoint (GET /api/agents/{id}/phone). The
// operator chooses the phone at login; with the browser phone the queue rings this page.
// It rings (a tone made here, no sound file) while the screen-pop shows the caller, and
// offers answer, hang up, mute, hold and the keypad (RFC 4733 events). Its line says what
// is wrong: the microphone refused, the WebSocket lost (JsSIP reconnects and registers
// again), the registration refused.
"use strict";

const phone = {
  config: null, ua: null, session: null, kind: "desk", waiting: null, audio: null, ring: null,
  muted: false, held: false, lost: false, out: null,
};
const KEYS = "123456789*0#";

function phoneLine(state, text) {
  const s = $("ph-status");
  s.className = "ph-status " + state;
  s.textContent = text;
  $("phone").dataset.state = state;
}

function phoneButtons() {
  const s = phone.session;
  const live = !!s && s.isEstablished();
  $("ph-answer").hidden = !(s && !live && s.direction === "incoming");
  $("ph-hangup").hidden = !s;
  $("ph-mute").hidden = !live;
  $("ph-hold").hidden = !live;
  $("ph-keypad").hidden = !live;
  $("ph-mute").textContent = phone.muted ? "取消静音 Unmute" : "静音 Mute";
  $("ph-hold").textContent = phone.held ? "恢复 Resume" : "保持 Hold";
  $("phone-kind").disabled = !!(desk.state && desk.state.state !== "offline");
}

// What the queue rings: "browser" when this page's phone is chosen (the login's `phone`).
function phoneKind() { return phone.kind; }

// A tone of `hz` for `seconds` on the speaker chosen (WebAudio into the #ph-tones element,
// whose output device follows the choice): the ring, and the speaker's test tone.
function tone(hz, seconds) {
  const ctx = phone.audio;
  if (!ctx) return;
  if (!phone.out) {
    phone.out = ctx.createMediaStreamDestination();
    $("ph-tones").srcObject = phone.out.stream;
  }
  const osc = ctx.createOscillator(), gain = ctx.createGain();
  osc.frequency.value = hz;
  gain.gain.value = 0.2;
  osc.connect(gain).connect(phone.out);
  osc.start();
  osc.stop(ctx.currentTime + seconds);
  $("ph-tones").play().catch(() => {});
}

// The ring: 450 Hz, 1 s on, 2 s off, until answered or gone.
function startRing() {
  stopRing();
  tone(450, 1);
  phone.ring = setInterval(() => tone(450, 1), 3000);
}

function stopRing() {
  if (phone.ring) clearInterval(phone.ring);
  phone.ring = null;
}

async function microphone() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    for (const track of stream.getTracks()) track.stop();
    return true;
  } catch (e) {
    phoneLine("refused", `麦克风不可用 microphone refused (${e.name}): 在浏览器中允许麦克风，或改用桌面话机 allow it, or use the desk phone`);
    return false;
  }
}

function startUA() {
  const c = phone.config;
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(c.ws_url)],
    uri: c.uri, authorization_user: c.username, password: c.password,
    display_name: c.display_name, register: true, register_expires: 120,
    session_timers: false, user_agent: "hotline12345-desk",
    connection_recovery_min_interval: 2, connection_recovery_max_interval: 16,
  });
  const settle = (ok) => { if (phone.waiting) { phone.waiting(ok); phone.waiting = null; } };
  // after a lost link the line says so until the phone is registered again
  ua.on("connecting", () => phone.lost || phoneLine("connecting", "连接中 connecting…"));
  ua.on("connected", () => phone.lost || phoneLine("connecting", "注册中 registering…"));
  ua.on("disconnected", () => {
    phone.lost = phone.ua === ua;  // not when the operator stopped the phone
    if (phone.lost) phoneLine("lost", "话机连接断开，正在重连 phone link lost, reconnecting…");
  });
  ua.on("registered", () => {
    phone.lost = false;
    phoneLine("registered", "浏览器话机就绪 browser phone registered");
    settle(true);
  });
  ua.on("unregistered", () => phone.lost || phoneLine("off", "话机未注册 phone not registered"));
  ua.on("registrationFailed", (e) => {
    phoneLine("failed", `话机注册失败 registration failed: ${e.cause}`);
    settle(false);
  });
  ua.on("newRTCSession", (e) => { if (e.originator === "remote") incoming(e.session); });
  ua.start();
  phone.ua = ua;
}

// Before the login with the browser phone: the microphone allowed, the phone registered.
async function phoneReady() {
  if (phone.kind !== "browser") return true;
  if (!phone.audio) phone.audio = new AudioContext();  // made on the click: it may sound
  phone.audio.resume().catch(() => {});
  if (!(await microphone())) return false;
  await loadDevices().catch(() => {});
  if (phone.ua && phone.ua.isRegistered()) return true;
  const registered = new Promise((resolve) => {
    phone.waiting = resolve;
    setTimeout(() => resolve(false), 15000);
  });
  if (!phone.ua) startUA(); else phone.ua.register();
  const ok = await registered;
  if (!ok && $("phone").dataset.state !== "failed") phoneLine("failed", "话机未能注册 the phone did not register in time");
  return ok;
}

function incoming(session) {
  if (phone.session) { session.terminate({ status_code: 486 }); return; }  // one call at a time
  phone.session = session;
  phone.muted = phone.held = false;
  const who = session.remote_identity;
  const caller = [who.uri.user, who.display_name].filter(Boolean).join(" ");
  phoneLine("ringing", `来电振铃 ringing: ${caller}`);
  startRing();
  session.on("peerconnection", (e) => {
    e.peerconnection.addEventListener("track", (t) => { $("ph-audio").srcObject = t.streams[0]; });
  });
  // with STUN/TURN, answer once the candidate through them is there (relay for TURN, else
  // server-reflexive), at most 3 s after the first: an unreachable server must not hold the
  // answer for the browser's whole gathering time
  session.on("icecandidate", (e) => {
    const servers = phone.config.ice_servers || [];
    if (!servers.length) return;
    const turn = servers.some((x) => x.urls.some((u) => u.startsWith("turn")));
    if (e.candidate.type === (turn ? "relay" : "srflx")) e.ready();
    else if (!session.iceTimer) session.iceTimer = setTimeout(e.ready, 3000);
  });
  session.on("accepted", () => { stopRing(); phoneLine("talking", `通话中 on a call: ${caller}`); phoneButtons(); });
  session.on("confirmed", phoneButtons);
  session.on("hold", () => { phone.held = true; phoneLine("held", "保持中 on hold"); phoneButtons(); });
  session.on("unhold", () => { phone.held = false; phoneLine("talking", `通话中 on a call: ${caller}`); phoneButtons(); });
  const end = (text) => (e) => {
    stopRing();
    phone.session = null;
    if (e.cause === JsSIP.C.causes.USER_DENIED_MEDIA_ACCESS) {
      phoneLine("refused", "麦克风被拒绝，无法接听 microphone refused: the call could not be answered");
    } else {
      phoneLine(phone.ua && phone.ua.isRegistered() ? "registered" : "off", `${text} (${e.cause})`);
    }
    phoneButtons();
  };
  session.on("ended", end("通话结束 call ended"));
  session.on("failed", end("来电结束 call gone"));
  phoneButtons();
}

function answer() {
  if (!phone.session) return;
  const mic = $("ph-mic").value;
  const audio = mic ? { deviceId: { exact: mic } } : true;
  // the STUN/TURN servers of HOTLINE_WEBRTC_ICE_SERVERS (none: host candidates, one network)
  const iceServers = phone.config.ice_servers || [];
  phone.session.answer({ mediaConstraints: { audio, video: false }, pcConfig: { iceServers } });
}

// The microphones and speakers (named once the microphone is allowed); the choice is kept.
async function loadDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  const fill = (id, kind, key) => {
    const select = $(id);
    select.replaceChildren();
    for (const d of devices.filter((x) => x.kind === kind)) {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || d.deviceId || "默认 default";
      select.appendChild(option);
    }
    const kept = localStorage.getItem(key);
    if (kept && [...select.options].some((o) => o.value === kept)) select.value = kept;
    select.onchange = () => { localStorage.setItem(key, select.value); speaker(); };
  };
  fill("ph-mic", "audioinput", "hotline.mic");
  fill("ph-speaker", "audiooutput", "hotline.speaker");
  $("ph-devices").hidden = false;
  speaker();
}

// The call and the tones on the speaker chosen (where the browser lets a page choose).
function speaker() {
  const id = $("ph-speaker").value;
  for (const el of [$("ph-audio"), $("ph-tones")]) {
    if (id && el.setSinkId) el.setSinkId(id).catch((e) => problem(`扬声器 speaker: ${e.name}`));
  }
}

function phoneStop() {
  const ua = phone.ua;
  phone.ua = null;
  phone.lost = false;
  if (ua) ua.stop();  // unregisters; a ringing call is refused
}

async function loadPhone(agent) {
  const keypad = $("ph-keypad");
  for (const key of KEYS) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = key;
    b.dataset.key = key;
    b.onclick = () => phone.session && phone.session.sendDTMF(key, { transportType: "RFC2833" });
    keypad.appendChild(b);
  }
  $("ph-answer").onclick = answer;
  $("ph-test").onclick = () => {
    if (!phone.audio) phone.audio = new AudioContext();
    phone.audio.resume().catch(() => {});
    tone(1000, 1);
    $("ph-test").dataset.played = String(Number($("ph-test").dataset.played || 0) + 1);
  };
  $("ph-hangup").onclick = () => phone.session && phone.session.terminate();
  $("ph-mute").onclick = () => {
    if (!phone.session) return;
    if (phone.muted) phone.session.unmute({ audio: true }); else phone.session.mute({ audio: true });
    phone.muted = !phone.muted;
    phoneButtons();
  };
  $("ph-hold").onclick = () => phone.session && (phone.held ? phone.session.unhold() : phone.session.hold());
  window.addEventListener("pagehide", phoneStop);
  try { phone.config = await api("GET", `/api/agents/${encodeURIComponent(agent)}/phone`); } catch (e) { phone.config = null; }
  const select = $("phone-kind");
  const usable = !!(phone.config && phone.config.available && window.JsSIP);
  select.querySelector("option[value=browser]").disabled = !usable;
  const kept = localStorage.getItem("hotline.phone");
  phone.kind = usable && kept === "browser" ? "browser" : "desk";
  select.value = phone.kind;
  select.onchange = () => {
    phone.kind = select.value;
    localStorage.setItem("hotline.phone", phone.kind);
    if (phone.kind === "desk") { phoneStop(); phoneLine("off", "使用桌面话机 desk phone"); }
    else phoneLine("off", "浏览器话机：点就绪后注册 browser phone: registers when you go ready");
    $("phone").hidden = phone.kind !== "browser";
  };
  $("phone").hidden = phone.kind !== "browser";
  if (!usable) phoneLine("off", phone.config ? phone.config.reason : "无浏览器话机 no browser phone");
  else if (desk.state && desk.state.state !== "offline" && desk.state.interface === phone.config.interface) {
    phone.kind = select.value = "browser";  // a reloaded page: the queue rings this phone
    $("phone").hidden = false;
    phoneReady().catch((e) => problem(String(e)));
  }
  phoneButtons();
}
