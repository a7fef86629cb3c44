/*! Köprü web chat widget — protocol: docs/webchat-protocol.md (v1).
 * Embed: <script src="https://host/webchat.js" data-tenant="demo-dental" async><\/script>
 * Optional: data-title="…" data-color="#0f766e". No dependencies, no build step. */
(() => {
  "use strict";
  const script = document.currentScript ||
    document.querySelector('script[data-tenant][src*="webchat.js"]');
  const tenant = script && script.dataset.tenant;
  if (!tenant) { console.warn("[köprü] webchat.js: data-tenant is missing"); return; }
  const registry = (window.__kopruWebchat = window.__kopruWebchat || {});
  if (registry[tenant]) return; // loaded twice
  registry[tenant] = true;

  const src = new URL(script.src, location.href);
  const WS_URL = (src.protocol === "https:" ? "wss://" : "ws://") + src.host +
    "/webchat/" + encodeURIComponent(tenant) + "/ws";
  const VERSION = 1, MAX_TEXT_CHARS = 4000, MAX_FRAME_BYTES = 16384;
  const HISTORY_CAP = 200, PING_MS = 25000, DEAD_MS = 60000, ACK_MS = 15000, RETRY_MS = 4000;
  const KEY = "kopru.webchat." + tenant;
  const T = {
    title: "Bize yazın", open: "Sohbeti aç", close: "Sohbeti kapat", placeholder: "Mesajınızı yazın…",
    send: "Gönder", connecting: "Bağlanıyor…", reconnecting: "Bağlantı koptu, yeniden bağlanılıyor…",
    sending: "Gönderiliyor…", agent: "Temsilci", tooLarge: "Mesaj çok uzun",
    rateLimited: "Çok hızlı yazıyorsunuz; mesajınız birazdan gönderilecek.",
    unavailable: "Mesajınız şu an iletilemedi; birazdan yeniden denenecek.",
    invalid: "Bu mesaj gönderilemedi.", failed: "Bir sorun oluştu.",
    unknownTenant: "Sohbet şu anda kullanılamıyor.",
    unsupported: "Sohbetin yeni bir sürümü var; lütfen sayfayı yenileyin.",
  };
  const title = script.dataset.title || "";
  const color = script.dataset.color && window.CSS && CSS.supports("color", script.dataset.color)
    ? script.dataset.color : "#0f766e";

  // ---- persisted state: session, last seen seq, rendered history, outbox, referral
  let store = {};
  try { store = JSON.parse(localStorage.getItem(KEY) || "{}") || {}; } catch (_) { store = {}; }
  const state = {
    session: typeof store.session === "string" ? store.session : null,
    lastSeen: Number.isInteger(store.lastSeen) ? store.lastSeen : 0,
    messages: Array.isArray(store.messages) ? store.messages : [], // {seq, from, text, buttons, at, client_id}
    pending: Array.isArray(store.pending) ? store.pending : [],     // {id, kind, text, button?, state}
    referral: store.referral || null,
    referralSent: !!store.referralSent,
    tenantName: typeof store.tenantName === "string" ? store.tenantName : "",
  };
  // An acknowledged message whose echo never came (another tab took it) should not linger.
  state.pending = state.pending.filter((p) => p && p.id && (p.state === "sending" || Date.now() - (p.t || 0) < 600000));
  function save() {
    state.messages.sort((a, b) => a.seq - b.seq);
    if (state.messages.length > HISTORY_CAP) state.messages.splice(0, state.messages.length - HISTORY_CAP);
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (_) { /* private mode: memory only */ }
  }
  function clean(s) { return s.replace(/[\u0000-\u001F\u007F-\u009F]/g, ""); } // the server refuses control characters
  if (!state.referral && !state.session) { // first touch: UTM tags and gclid of the landing page
    const q = new URLSearchParams(location.search), r = {};
    for (const k of ["utm_source", "utm_medium", "utm_campaign", "gclid"]) {
      const v = clean(q.get(k) || "").trim();
      if (v) r[k] = v.slice(0, 500);
    }
    if (Object.keys(r).length) { r.url = clean(location.href.split("#")[0]).slice(0, 2000); state.referral = r; save(); }
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  const visible = (s) => /[^\s\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF\u00AD]/.test(s);

  // ---- DOM (Shadow DOM, so the host page's CSS cannot reach in)
  const host = document.createElement("div");
  host.setAttribute("data-kopru-webchat", tenant);
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `<style>
    :host { all: initial; }
    * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
    .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px;
      border-radius: 50%; border: 0; background: var(--c); color: #fff; cursor: pointer;
      box-shadow: 0 4px 14px rgba(0,0,0,.25); display: grid; place-items: center; }
    .launcher svg { width: 28px; height: 28px; fill: currentColor; }
    .badge { position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; padding: 0 5px;
      border-radius: 10px; background: #dc2626; color: #fff; font-size: 12px; line-height: 20px; }
    .panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483000; width: 370px; height: 560px;
      max-height: calc(100vh - 108px); display: flex; flex-direction: column; background: #fff; color: #111827;
      border-radius: 14px; overflow: hidden; box-shadow: 0 12px 40px rgba(0,0,0,.25); font-size: 15px; }
    .panel[hidden], .badge[hidden], .status[hidden] { display: none; }
    header { background: var(--c); color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 8px; }
    header h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 600; }
    header button { background: transparent; border: 0; color: #fff; font-size: 22px; line-height: 1; cursor: pointer;
      width: 32px; height: 32px; border-radius: 6px; }
    button:focus-visible, textarea:focus-visible { outline: 2px solid #2563eb; outline-offset: 2px; }
    .status { padding: 6px 12px; background: #fef3c7; color: #92400e; font-size: 13px; }
    .log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #f9fafb; }
    .msg { max-width: 82%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere;
      line-height: 1.4; background: #fff; border: 1px solid #e5e7eb; align-self: flex-start; }
    .msg.customer { align-self: flex-end; background: var(--c); color: #fff; border-color: transparent; }
    .msg.pending { opacity: .65; }
    .meta { display: block; font-size: 11px; opacity: .7; margin-top: 3px; }
    .who { display: block; font-size: 11px; font-weight: 600; margin-bottom: 2px; }
    .chips { display: flex; flex-wrap: wrap; gap: 6px; align-self: flex-start; max-width: 90%; }
    .chips button { border: 1px solid var(--c); color: var(--c); background: #fff; border-radius: 16px;
      padding: 6px 12px; font-size: 14px; cursor: pointer; }
    .chips button:disabled { opacity: .45; cursor: default; }
    .notice { align-self: center; font-size: 13px; color: #b91c1c; text-align: center; }
    form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e5e7eb; background: #fff; }
    textarea { flex: 1; resize: none; border: 1px solid #d1d5db; border-radius: 10px; padding: 8px 10px;
      font-size: 15px; max-height: 120px; color: inherit; background: #fff; }
    form button { border: 0; border-radius: 10px; padding: 0 14px; background: var(--c); color: #fff;
      font-size: 15px; cursor: pointer; }
    @media (max-width: 480px) { .panel { right: 0; bottom: 0; width: 100vw; height: 100%; max-height: 100%; border-radius: 0; } }
  </style>
  <button class="launcher" type="button" aria-haspopup="dialog" aria-expanded="false">
    <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 2-2z"/></svg>
    <span class="badge" hidden></span>
  </button>
  <section class="panel" role="dialog" aria-modal="false" hidden>
    <header><h2></h2><button class="close" type="button">×</button></header>
    <div class="status" role="status" aria-live="polite" hidden></div>
    <div class="log" role="log" aria-live="polite" aria-relevant="additions" tabindex="0"></div>
    <form><textarea rows="1" enterkeyhint="send" dir="auto"></textarea><button type="submit"></button></form>
  </section>`;
  const $ = (s) => root.querySelector(s);
  const launcher = $(".launcher"), badge = $(".badge"), panel = $(".panel"), heading = $("h2");
  const closeBtn = $(".close"), statusEl = $(".status"), log = $(".log"), form = $("form");
  const input = $("textarea"), sendBtn = $("form button");
  host.style.setProperty("--c", color);
  launcher.setAttribute("aria-label", T.open);
  closeBtn.setAttribute("aria-label", T.close);
  input.placeholder = T.placeholder;
  input.setAttribute("aria-label", T.placeholder);
  sendBtn.textContent = T.send;
  function setTitle(t) { heading.textContent = t; panel.setAttribute("aria-label", t); }
  setTitle(title || state.tenantName || T.title);

  let unread = 0, notices = [];
  function setStatus(text) { statusEl.textContent = text || ""; statusEl.hidden = !text; }
  function notice(text) { notices.push(text); if (notices.length > 3) notices.shift(); render(); }
  function setUnread(n) { unread = n; badge.textContent = n > 9 ? "9+" : String(n); badge.hidden = !n; }

  function bubble(cls, text, meta, who) {
    const el = document.createElement("div");
    el.className = "msg " + cls;
    el.setAttribute("dir", "auto");
    if (who) { const w = document.createElement("span"); w.className = "who"; w.textContent = who; el.append(w); }
    el.append(document.createTextNode(text));
    if (meta) { const m = document.createElement("span"); m.className = "meta"; m.textContent = meta; el.append(m); }
    return el;
  }
  function time(at) {
    const d = new Date(at);
    return isNaN(d) ? "" : d.toLocaleTimeString("tr-TR", { hour: "2-digit", minute: "2-digit" });
  }
  function render(toBottom) {
    const top = log.scrollTop, nearBottom = toBottom || log.scrollHeight - top - log.clientHeight < 60;
    log.textContent = "";
    const last = state.messages.length ? state.messages[state.messages.length - 1] : null;
    for (const m of state.messages) {
      const from = m.from === "customer" || m.from === "agent" ? m.from : "bot";
      log.append(bubble(from, m.text, time(m.at), from === "agent" ? T.agent : ""));
      if (from !== "customer" && Array.isArray(m.buttons) && m.buttons.length) {
        const chips = document.createElement("div");
        chips.className = "chips";
        for (const b of m.buttons) {
          const c = document.createElement("button");
          c.type = "button";
          c.textContent = b.title;
          c.disabled = m !== last || state.pending.length > 0; // only the latest offer is live
          c.addEventListener("click", () => postback(b));
          chips.append(c);
        }
        log.append(chips);
      }
    }
    for (const p of state.pending) log.append(bubble("customer pending", p.text, p.state === "sending" ? T.sending : ""));
    for (const n of notices) { const el = document.createElement("div"); el.className = "notice"; el.textContent = n; log.append(el); }
    log.scrollTop = nearBottom ? log.scrollHeight : top;
  }

  // ---- open / close, keyboard
  function open() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    setUnread(0);
    render(true);
    connect();
    input.focus();
  }
  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }
  launcher.addEventListener("click", () => (panel.hidden ? open() : close()));
  closeBtn.addEventListener("click", close);
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); close(); } });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  input.addEventListener("input", () => { input.style.height = "auto"; input.style.height = input.scrollHeight + "px"; });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!visible(text)) return;
    if ([...text].length > MAX_TEXT_CHARS ||
        new TextEncoder().encode(JSON.stringify({ type: "message", id: newId(), text })).length > MAX_FRAME_BYTES) {
      notice(T.tooLarge);
      return;
    }
    input.value = "";
    input.style.height = "auto";
    enqueue({ id: newId(), kind: "message", text, state: "sending" });
  });
  function postback(b) { enqueue({ id: newId(), kind: "postback", text: b.title, button: b.id, state: "sending" }); }
  function enqueue(p) { notices = []; state.pending.push(p); save(); render(true); connect(); pump(); }

  // ---- the socket
  let ws = null, ready = false, fatal = false, attempts = 0, inFlight = null, lastFrameAt = 0;
  let reconnectTimer = 0, pingTimer = 0, ackTimer = 0, retryTimer = 0;
  const send = (frame) => { if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame)); };

  function connect() {
    if (ws || fatal) return;
    clearTimeout(reconnectTimer); reconnectTimer = 0;
    setStatus(attempts ? T.reconnecting : T.connecting);
    let sock;
    try { sock = new WebSocket(WS_URL); } catch (_) { scheduleReconnect(); return; }
    ws = sock;
    lastFrameAt = Date.now();
    clearTimeout(ackTimer);
    ackTimer = setTimeout(drop, ACK_MS); // no welcome in time: try again
    sock.onopen = () => {
      if (sock !== ws) return;
      const hello = { type: "hello", v: VERSION };
      if (state.session) hello.session = state.session;
      if (state.session && state.lastSeen > 0) hello.last_seen = state.lastSeen;
      if (state.referral && !state.referralSent) hello.referral = state.referral;
      send(hello);
    };
    sock.onmessage = (e) => { if (sock === ws) { lastFrameAt = Date.now(); onFrame(e.data); } };
    sock.onclose = () => { if (sock === ws) drop(); };
  }
  function drop() { // forget the socket (closing it if needed) and reconnect unless told not to
    const sock = ws;
    ws = null; ready = false; inFlight = null;
    clearInterval(pingTimer); clearTimeout(ackTimer); clearTimeout(retryTimer);
    if (sock) try { sock.close(); } catch (_) { /* already closed */ }
    if (!fatal) scheduleReconnect();
  }
  function scheduleReconnect() {
    if (reconnectTimer || fatal) return;
    const base = Math.min(30000, 1000 * 2 ** attempts);
    attempts++;
    setStatus(T.reconnecting);
    reconnectTimer = setTimeout(() => { reconnectTimer = 0; connect(); }, base / 2 + Math.random() * base / 2);
  }
  function reconnectNow() { if (!ws && reconnectTimer && !fatal) { clearTimeout(reconnectTimer); reconnectTimer = 0; connect(); } }
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) reconnectNow(); });

  function pump() { // one message in flight at a time, so an error frame is about it
    if (!ready || inFlight) return;
    const p = state.pending.find((x) => x.state === "sending");
    if (!p) return;
    inFlight = p.id;
    send(p.kind === "postback"
      ? { type: "postback", id: p.id, button: p.button, title: p.text }
      : { type: "message", id: p.id, text: p.text });
    clearTimeout(ackTimer);
    ackTimer = setTimeout(drop, ACK_MS); // no answer: the socket is stuck; resend after reconnecting
  }
  function settle(id) { // the in-flight message got its answer
    if (inFlight !== id) return;
    inFlight = null;
    clearTimeout(ackTimer);
    pump();
  }

  function onFrame(data) {
    let f;
    try { f = JSON.parse(data); } catch (_) { return; }
    if (!f || typeof f !== "object") return;
    switch (f.type) {
      case "welcome": {
        if (state.session && f.session !== state.session) { // a new conversation; unsent messages go to it
          state.messages = []; state.lastSeen = 0;
          state.pending = state.pending.filter((p) => p.state === "sending");
        }
        state.session = f.session;
        if (state.referral) state.referralSent = true;
        if (typeof f.tenant_name === "string" && f.tenant_name) { state.tenantName = f.tenant_name; if (!title) setTitle(f.tenant_name); }
        ready = true; attempts = 0; inFlight = null;
        clearTimeout(ackTimer);
        setStatus("");
        save(); render();
        clearInterval(pingTimer);
        pingTimer = setInterval(() => {
          if (Date.now() - lastFrameAt > DEAD_MS) drop(); else send({ type: "ping" });
        }, PING_MS);
        pump();
        break;
      }
      case "message": {
        if (!Number.isInteger(f.seq) || typeof f.text !== "string") return;
        if (!state.messages.some((m) => m.seq === f.seq)) {
          state.messages.push({ seq: f.seq, from: f.from, text: f.text,
            buttons: Array.isArray(f.buttons) ? f.buttons : [], at: f.at, client_id: f.client_id });
          if (panel.hidden && f.from !== "customer") setUnread(unread + 1);
        }
        if (f.seq > state.lastSeen) state.lastSeen = f.seq;
        if (f.client_id) { state.pending = state.pending.filter((p) => p.id !== f.client_id); settle(f.client_id); }
        save(); render();
        break;
      }
      case "ack": {
        const p = state.pending.find((x) => x.id === f.id);
        if (p) {
          if (state.messages.some((m) => m.client_id === f.id)) state.pending = state.pending.filter((x) => x !== p);
          else { p.state = "sent"; p.t = Date.now(); } // stored; its echo (with a seq) replaces it
        }
        save(); render();
        settle(f.id);
        break;
      }
      case "error": onError(f.code); break;
      case "pong": break;
      default: break; // unknown frame types are ignored (protocol rule)
    }
  }
  function onError(code) {
    if (code === "unknown_tenant" || code === "unsupported_version") {
      fatal = true;
      setStatus(code === "unknown_tenant" ? T.unknownTenant : T.unsupported);
      drop();
      return;
    }
    if (!ready) { // the hello was refused and the server closes it: start afresh, without what it carried
      if (code === "invalid") { state.session = null; state.lastSeen = 0; state.messages = []; }
      state.referralSent = true;
      save(); render();
      return;
    }
    const id = inFlight;
    if (!id) { if (code !== "out_of_order" && code !== "malformed") notice(T.failed); return; }
    if (code === "too_large" || code === "invalid" || code === "malformed") {
      const p = state.pending.find((x) => x.id === id);
      state.pending = state.pending.filter((x) => x.id !== id);
      if (p && p.kind === "message" && !input.value) input.value = p.text; // give the text back
      notice(code === "too_large" ? T.tooLarge : T.invalid);
      save();
      settle(id);
    } else { // rate_limited, unavailable, anything new: nothing was stored; resend later, same id
      notice(code === "rate_limited" ? T.rateLimited : T.unavailable);
      inFlight = null;
      clearTimeout(ackTimer);
      clearTimeout(retryTimer);
      retryTimer = setTimeout(() => { notices = []; render(); pump(); }, RETRY_MS);
    }
  }

  function start() {
    document.body.append(host);
    render();
    // Resume at once when there is a conversation or an unsent message; otherwise wait for a click.
    if (state.session || state.pending.length) connect();
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
