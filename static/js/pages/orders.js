(function () {
  "use strict";
  const { get, post, money, el, table, errors, formData, signClass } = AL;

  function notice(id, text, cls) {
    document.getElementById(id).replaceChildren(el("div", { class: "notice " + cls }, text));
  }

  function ticketBody() {
    const data = formData(document.getElementById("ticket"));
    data.symbol = (data.symbol || "").toUpperCase();
    return data;
  }

  document.getElementById("check").addEventListener("click", async () => {
    const { ok, data } = await post("/api/v1/orders/preview", ticketBody());
    if (!ok) return notice("ticket-result", errors(data), "bad");
    const cautions = (data.warnings || []).map((w) => ` Warning (${w.rule}): ${w.detail}`).join("");
    if (data.allowed) notice("ticket-result", `The guard would accept this order (value ${money(data.notional)}, buying power ${money(data.buying_power)}).${cautions}`, cautions ? "warn" : "ok");
    else notice("ticket-result", `Refused by ${data.code}: ${data.reason}`, "bad");
  });

  document.getElementById("ticket").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { ok, data } = await post("/api/v1/orders/submit", ticketBody());
    const cautions = (data.warnings || []).map((w) => ` Warning (${w.rule}): ${w.detail}`).join("");
    if (ok) notice("ticket-result", `Order #${data.id} ${data.status}` + (data.avg_fill_price ? ` at ${money(data.avg_fill_price)}` : "") + cautions, "ok");
    else notice("ticket-result", `Refused: ${errors(data)}`, "bad");
    refresh();
  });

  document.getElementById("plan-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = formData(event.target);
    body.symbol = (body.symbol || "").toUpperCase();
    const { ok, data } = await post("/api/v1/plans/", body);
    notice("plan-result", ok ? `Plan #${data.id} saved.` : errors(data), ok ? "ok" : "bad");
    if (ok) event.target.reset();
    refresh();
  });

  async function cancel(id) { await post(`/api/v1/orders/${id}/cancel`); refresh(); }
  async function execute(id) {
    const { ok, data } = await post(`/api/v1/plans/${id}/execute`);
    notice("plan-result", ok ? `Plan executed: order #${data.id} ${data.status}` : errors(data), ok ? "ok" : "bad");
    refresh();
  }
  async function decide(id, approve) {
    const { ok, data } = await post(`/api/v1/approvals/${id}/decide`, { approve });
    if (!ok) AL.toast ? AlphaLoop.toast("Approval", errors(data), "risk") : null;
    refresh();
  }

  const orderColumns = [
    { label: "#", value: (o) => o.id }, { label: "Time", value: (o) => new Date(o.created_at).toLocaleString() },
    { label: "Side", value: (o) => o.side, cls: (o) => o.side === "BUY" ? "up" : "down" }, { label: "Symbol", value: (o) => o.symbol },
    { label: "Type", value: (o) => o.order_type }, { label: "Qty", value: (o) => Number(o.quantity) },
    { label: "Filled", value: (o) => Number(o.filled_quantity) }, { label: "Limit/Stop", value: (o) => o.limit_price || o.stop_price || "–" },
    { label: "Avg fill", value: (o) => o.avg_fill_price ? money(o.avg_fill_price) : "–" },
    { label: "Status", value: (o) => o.status + (o.reject_code ? ` (${o.reject_code})` : "") },
  ];

  async function refresh() {
    const [open, history, positions, plans, approvals] = await Promise.all([
      get("/api/v1/orders/open"), get("/api/v1/orders/history?limit=50"), get("/api/v1/positions"),
      get("/api/v1/plans/"), get("/api/v1/approvals/?status=PENDING"),
    ]);
    const list = (r) => (r.ok ? (Array.isArray(r.data) ? r.data : r.data.results || r.data.orders || r.data.positions || []) : []);
    table("open-orders", [...orderColumns, { label: "", value: (o) => el("button", { class: "small danger", onclick: () => cancel(o.id) }, "Cancel") }], list(open), "No open orders.");
    table("history", orderColumns, list(history), "No orders yet.");
    table("positions", [
      { label: "Symbol", value: (p) => p.symbol }, { label: "Qty", value: (p) => Number(p.quantity) }, { label: "Avg cost", value: (p) => money(p.avg_cost) },
      { label: "Price", value: (p) => money(p.price) }, { label: "Value", value: (p) => money(p.market_value) },
      { label: "Unrealized", value: (p) => money(p.unrealized_pnl), cls: (p) => signClass(p.unrealized_pnl) },
      { label: "Realized", value: (p) => money(p.realized_pnl), cls: (p) => signClass(p.realized_pnl) },
    ], list(positions), "No open positions.");
    table("plans-table", [
      { label: "#", value: (p) => p.id }, { label: "Symbol", value: (p) => p.symbol }, { label: "Dir", value: (p) => p.direction },
      { label: "Entry", value: (p) => money(p.entry_price) }, { label: "Stop", value: (p) => money(p.stop_price) },
      { label: "Target", value: (p) => money(p.target_price) }, { label: "Qty", value: (p) => Number(p.quantity) }, { label: "Status", value: (p) => p.status },
      { label: "", value: (p) => ["PENDING", "ACTIVE"].includes(p.status) ? el("button", { class: "small", onclick: () => execute(p.id) }, "Execute") : "" },
    ], list(plans), "No plans.");
    table("approvals-table", [
      { label: "#", value: (a) => a.id }, { label: "Source", value: (a) => a.source }, { label: "Reason", value: (a) => a.reason },
      { label: "Plan", value: (a) => `#${a.plan}` },
      { label: "", value: (a) => el("span", {}, el("button", { class: "small primary", onclick: () => decide(a.id, true) }, "Approve"), " ",
          el("button", { class: "small danger", onclick: () => decide(a.id, false) }, "Reject")) },
    ], list(approvals), "No approvals waiting.");
  }

  document.addEventListener("alphaloop:event", (event) => {
    if (event.detail.channel === "order_update") refresh();
  });
  refresh();
})();
