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

  const MAX_TOASTS = 4;

  function toast(title, body, cls) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = "toast " + (cls || "");
    el.setAttribute("role", "status");
    el.title = "Click to dismiss";
    const strong = document.createElement("strong");
    strong.textContent = title;
    el.appendChild(strong);
    if (body) { const p = document.createElement("div"); p.textContent = body; el.appendChild(p); }
    el.addEventListener("click", () => el.remove());
    box.appendChild(el);
    while (box.children.length > MAX_TOASTS) box.firstElementChild.remove();
    setTimeout(() => el.remove(), 8000);
  }

  // Numbers as a trader reads them: quantities without trailing zeros, prices to the cent
  // (to the $0.0001 tick below one dollar), whatever precision the API stores.
  function quantity(value) {
    const n = Number(value);
    return Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: 6 }) : String(value ?? "–");
  }

  function price(value) {
    if (value === null || value === undefined || value === "") return "–";
    const n = Number(value);
    if (!Number.isFinite(n)) return String(value);
    const digits = Math.abs(n) < 1 ? 4 : 2;
    return n.toLocaleString("en-US", { style: "currency", currency: "USD", minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function orderTerms(order) {
    if (order.order_type === "LIMIT") return `limit ${price(order.limit_price)}`;
    if (order.order_type === "STOP") return `stop ${price(order.stop_price)}`;
    if (order.order_type === "STOP_LIMIT") return `stop ${price(order.stop_price)} limit ${price(order.limit_price)}`;
    return "at market";
  }

  // One sentence per order state: {title, body, cls} for a toast or a notice ("Order #148 filled", "Bought 5 MSFT @ $880.14").
  function orderOutcome(order) {
    const [verb, done] = order.side === "SELL" ? ["Sell", "Sold"] : ["Buy", "Bought"];
    const what = `${quantity(order.quantity)} ${order.symbol}`;
    const filled = Number(order.filled_quantity || 0);
    const id = `Order #${order.id}`;
    switch (order.status) {
      case "FILLED":
        return { title: `${id} filled`, body: `${done} ${quantity(order.filled_quantity)} ${order.symbol} @ ${price(order.avg_fill_price)}`, cls: "order" };
      case "PARTIALLY_FILLED":
        return { title: `${id} partially filled`, body: `${done} ${quantity(order.filled_quantity)} of ${what} @ ${price(order.avg_fill_price)} avg`, cls: "order" };
      case "CANCELLED":
        return { title: `${id} cancelled`, body: `${verb} ${what} ${orderTerms(order)}` + (filled ? `; ${quantity(filled)} filled @ ${price(order.avg_fill_price)}` : ""), cls: "order" };
      case "EXPIRED":
        return { title: `${id} expired`, body: `${verb} ${what} ${orderTerms(order)}` + (filled ? `; ${quantity(filled)} filled` : ""), cls: "order" };
      case "REJECTED":
        return { title: `${id} refused`, body: `${verb} ${what}: ${order.reject_reason || "refused"} (${order.reject_code})`, cls: "risk" };
      case "ACCEPTED":
        return { title: `${id} working`, body: `${verb} ${what} ${orderTerms(order)}, ${order.time_in_force}`, cls: "order" };
      default:
        return { title: `${id} ${String(order.status || "").toLowerCase()}`, body: `${verb} ${what} ${orderTerms(order)}`, cls: "order" };
    }
  }

  // An order's outcome is toasted once: its final state of a submission (NEW and ACCEPTED on the way
  // to a fill are not outcomes), then each later change (a fill, a cancel). The order_filled /
  // order_rejected notifications repeat an outcome already shown and raise no toast of their own.
  const ORDER_OUTCOMES = new Set(["PARTIALLY_FILLED", "FILLED", "CANCELLED", "REJECTED", "EXPIRED"]);
  const toastedOrders = new Set();

  function orderToast(message) {
    const order = message.data || {};
    if (!ORDER_OUTCOMES.has(message.event) || order.id === undefined) return;
    const key = `${order.id}:${message.event}:${order.filled_quantity}`;
    if (toastedOrders.has(key)) return;
    toastedOrders.add(key);
    const outcome = orderOutcome(order);
    toast(outcome.title, outcome.body, outcome.cls);
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
    if (message.channel === "order_update") orderToast(message);
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

  // --- the NYSE session badge (navbar): from GET /api/v1/market/session, re-read when the state
  // changes (and at least every minute), counting down on the server's clock, not the browser's.
  const SESSION_REFRESH_MS = 60000;
  const sessionState = { data: null, offset: 0, timer: null };
  const clockET = (iso) => new Date(iso).toLocaleTimeString("en-US", { timeZone: "America/New_York", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }) + " ET";
  const dayET = (iso) => new Date(iso).toLocaleDateString("en-US", { timeZone: "America/New_York", weekday: "short" });

  function countdown(iso) {
    const minutes = Math.max(0, Math.ceil((Date.parse(iso) - (Date.now() + sessionState.offset)) / 60000));
    if (minutes >= 24 * 60) return "";
    return minutes >= 60 ? ` (in ${Math.floor(minutes / 60)} h ${minutes % 60} min)` : ` (in ${minutes} min)`;
  }

  // "Open · closes 16:00 ET", "Pre-market · opens 09:30 ET (in 42 min)", "Closed (Christmas) · opens Mon 09:30 ET".
  function sessionText(data) {
    const sameDay = (iso) => new Date(iso).toLocaleDateString("en-US", { timeZone: "America/New_York" }) ===
      new Date(Date.now() + sessionState.offset).toLocaleDateString("en-US", { timeZone: "America/New_York" });
    const opens = `opens ${sameDay(data.next_open) ? "" : dayET(data.next_open) + " "}${clockET(data.next_open)}`;
    if (data.state === "open") return `Open · closes ${clockET(data.closes_at)}${data.early_close ? " (half day)" : ""}`;
    if (data.state === "pre_market") return `Pre-market · ${opens}${countdown(data.next_open)}`;
    const label = data.state === "after_hours" ? "After-hours" : `Closed${data.holiday ? ` (${data.holiday})` : ""}`;
    return `${label} · ${opens}`;
  }

  function sessionRender() {
    const data = sessionState.data;
    const badge = document.getElementById("market-session");
    if (!data) return;
    if (badge) {
      badge.textContent = "NYSE " + sessionText(data);
      badge.className = "market-session " + data.state;
      badge.title = `${data.detail} ${data.orders_detail}`;
    }
    document.dispatchEvent(new CustomEvent("alphaloop:session", { detail: { ...data, text: sessionText(data) } }));
  }

  async function sessionLoad() {
    clearTimeout(sessionState.timer);
    const sent = Date.now();
    const response = await AL.get("/api/v1/market/session").catch(() => null);
    let wait = SESSION_REFRESH_MS;
    if (response && response.ok) {
      sessionState.data = response.data;
      sessionState.offset = Date.parse(response.data.now) - (sent + Date.now()) / 2;
      sessionRender();
      const untilChange = Date.parse(response.data.changes_at) - (Date.now() + sessionState.offset);
      wait = Math.max(1000, Math.min(SESSION_REFRESH_MS, untilChange + 500));
    }
    sessionState.timer = setTimeout(sessionLoad, wait);
  }

  window.AlphaLoop = {
    api,
    toast,
    format: { quantity, price },
    orderOutcome,
    watch(symbols) { symbols.forEach((s) => state.symbols.add(s)); subscribe(); },
    session: () => sessionState.data && { ...sessionState.data, text: sessionText(sessionState.data) },
    askDesktopPermission() { if ("Notification" in window && Notification.permission === "default") Notification.requestPermission(); },
  };

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-watch]").forEach((el) => state.symbols.add(el.dataset.watch));
    connect();
    sessionLoad();
    setInterval(sessionRender, 30000); // the pre-market countdown
  });
})();
