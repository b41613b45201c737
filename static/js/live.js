// AlphaLoop live client: one WebSocket per tab to /ws/trading, authenticated with a
// single-use ticket, resumed from the last event id after a drop so nothing is lost.
(function () {
  "use strict";

  const state = { socket: null, lastId: Number(sessionStorage.getItem("alphaloop.lastId") || 0), retry: 0, symbols: new Set() };

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function api(path, options = {}) {
    const response = await fetch(path, {
      credentials: "same-origin",
      ...options,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), ...(options.headers || {}) },
    });
    const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
    return { ok: response.ok, status: response.status, body };
  }

  function setStatus(text, cls) {
    const el = document.getElementById("live-status");
    if (el) { el.textContent = text; el.className = "live-status " + (cls || ""); }
  }

  function toast(title, body, cls) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = "toast " + (cls || "");
    el.setAttribute("role", "status");
    const strong = document.createElement("strong");
    strong.textContent = title;
    el.appendChild(strong);
    if (body) { const p = document.createElement("div"); p.textContent = body; el.appendChild(p); }
    box.appendChild(el);
    setTimeout(() => el.remove(), 8000);
  }

  function desktop(title, body) {
    if (!("Notification" in window)) return;
    if (Notification.permission === "granted") new Notification(title, { body });
  }

  function remember(id) {
    if (id && id > state.lastId) {
      state.lastId = id;
      sessionStorage.setItem("alphaloop.lastId", String(id));
    }
  }

  function handle(message) {
    if (message.channel === "system") {
      if (message.event === "connected") {
        // A fresh tab starts from now; a reconnecting one asks for what it missed.
        if (state.lastId === 0) remember(message.data.latest_id);
        else state.socket.send(JSON.stringify({ action: "resume", last_id: state.lastId }));
      }
      return;
    }
    if (message.channel === "price") {
      document.dispatchEvent(new CustomEvent("alphaloop:tick", { detail: message.data }));
      return;
    }
    if (message.id && message.id <= state.lastId) return; // replay overlap
    remember(message.id);
    const data = message.data || {};
    if (message.channel === "price_alert") toast(data.title || "Price alert", data.body || `${data.symbol || ""} ${data.price || ""}`, "alert");
    if (message.channel === "order_update") toast(data.title || `Order ${message.event}`, data.body || `${data.side || ""} ${data.quantity || ""} ${data.symbol || ""} ${data.reject_reason || ""}`, "order");
    if (message.channel === "risk_warning") toast(data.title || "Risk warning", data.body || "", "risk");
    if (message.channel === "signal_fired") toast(data.title || "Signal", data.body || "", "signal");
    if (message.channel === "notification" && message.event === "desktop") desktop(data.title || "AlphaLoop", data.body || "");
    document.dispatchEvent(new CustomEvent("alphaloop:event", { detail: message }));
  }

  async function connect() {
    setStatus("connecting…", "pending");
    const ticket = await api("/api/v1/auth/ws-ticket", { method: "POST" }).catch(() => null);
    if (!ticket || !ticket.ok) { schedule(); return; }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/trading?token=${encodeURIComponent(ticket.body.ticket)}`);
    state.socket = socket;
    socket.onopen = () => {
      state.retry = 0;
      setStatus("live", "ok");
      subscribe();
    };
    socket.onmessage = (event) => {
      try { handle(JSON.parse(event.data)); } catch (err) { console.error("bad live message", err); }
    };
    socket.onclose = (event) => {
      setStatus(event.code === 4401 ? "session expired" : "reconnecting…", "down");
      if (event.code !== 4401) schedule();
    };
  }

  function schedule() {
    state.retry = Math.min(state.retry + 1, 6);
    setTimeout(connect, 500 * 2 ** state.retry);
  }

  function subscribe() {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify({
        action: "subscribe",
        channels: ["price_alert", "signal_fired", "order_update", "risk_warning", "equity_update", "notification"],
        symbols: Array.from(state.symbols),
      }));
    }
  }

  window.AlphaLoop = {
    api,
    toast,
    watch(symbols) { symbols.forEach((s) => state.symbols.add(s)); subscribe(); },
    askDesktopPermission() { if ("Notification" in window && Notification.permission === "default") Notification.requestPermission(); },
  };

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-watch]").forEach((el) => state.symbols.add(el.dataset.watch));
    connect();
  });
})();
