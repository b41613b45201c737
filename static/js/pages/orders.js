(function () {
  "use strict";
  const { get, post, money, el, table, errors, formData, signClass } = AL;
  const { format, orderOutcome } = AlphaLoop;
  const confirming = new Set(); // open orders whose Cancel asks "are you sure?" (kept across re-renders)

  function notice(id, text, cls) {
    document.getElementById(id).replaceChildren(el("div", { class: "notice " + cls }, text));
  }

  function outcomeNotice(id, order, extra = "") {
    const outcome = orderOutcome(order);
    const cls = order.status === "REJECTED" ? "bad" : extra ? "warn" : "ok";
    notice(id, `${outcome.title}: ${outcome.body}${extra}`, cls);
  }

  function ticketBody() {
    const data = formData(document.getElementById("ticket"));
    data.symbol = (data.symbol || "").toUpperCase();
    return data;
  }

  const cautions = (order) => (order.warnings || []).map((w) => ` Warning (${w.rule}): ${w.detail}`).join("");

  document.getElementById("check").addEventListener("click", async () => {
    const { ok, data } = await post("/api/v1/orders/preview", ticketBody());
    if (!ok) return notice("ticket-result", errors(data), "bad");
    const warn = cautions(data);
    if (data.allowed) notice("ticket-result", `The guard would accept this order (value ${money(data.notional)}, buying power ${money(data.buying_power)}).${warn}`, warn ? "warn" : "ok");
    else notice("ticket-result", `Refused by ${data.code}: ${data.reason}`, "bad");
  });

  document.getElementById("ticket").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { ok, status, data } = await post("/api/v1/orders/submit", ticketBody());
    if (ok) outcomeNotice("ticket-result", data, cautions(data));
    else if (status === 422) notice("ticket-result", `Refused by ${data.code}: ${data.detail}`, "bad");
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

  async function cancel(id) {
    confirming.delete(id);
    const { ok, data } = await post(`/api/v1/orders/${id}/cancel`);
    if (!ok) notice("orders-result", `Order #${id} was not cancelled: ${errors(data)}`, "bad");
    else document.getElementById("orders-result").replaceChildren();
    refresh();
  }

  function cancelCell(order) {
    if (!confirming.has(order.id)) {
      return el("button", { class: "small danger", onclick: () => { confirming.add(order.id); refresh(); } }, "Cancel");
    }
    return el("span", { class: "confirm" }, `Cancel #${order.id}? `,
      el("button", { class: "small danger", onclick: () => cancel(order.id) }, "Yes, cancel"), " ",
      el("button", { class: "small", onclick: () => { confirming.delete(order.id); refresh(); } }, "Keep"));
  }

  async function execute(id) {
    const { ok, status, data } = await post(`/api/v1/plans/${id}/execute`);
    if (ok || status === 422) outcomeNotice("plan-result", data.order, ok ? cautions(data.order) : "");
    else notice("plan-result", `Plan #${id} was not executed: ${errors(data)}`, "bad");
    refresh();
  }

  async function decide(id, approve) {
    const { ok, status, data } = await post(`/api/v1/approvals/${id}/decide`, { approve });
    if (status === 422) notice("approvals-result", `Approval #${id} not executed yet: ${data.detail} (${data.code})`, "warn");
    else if (!ok) notice("approvals-result", `Approval #${id}: ${errors(data)}`, "bad");
    else notice("approvals-result", approve ? `Approval #${id} approved: order #${data.order} sent.` : `Approval #${id} rejected.`, "ok");
    refresh();
  }

  const timeET = (iso) => iso ? new Date(iso).toLocaleString("en-US", { timeZone: "America/New_York", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23" }) + " ET" : "–";

  function planLabel(plan) {
    if (!plan || typeof plan !== "object") return plan ? `#${plan}` : "–";
    return `#${plan.id} ${plan.direction} ${format.quantity(plan.quantity)} ${plan.symbol} @ ${format.price(plan.entry_price)}`;
  }

  const orderColumns = [
    { label: "#", value: (o) => o.id }, { label: "Time", value: (o) => new Date(o.created_at).toLocaleString() },
    { label: "Side", value: (o) => o.side, cls: (o) => o.side === "BUY" ? "up" : "down" }, { label: "Symbol", value: (o) => o.symbol },
    { label: "Type", value: (o) => o.order_type }, { label: "Qty", value: (o) => format.quantity(o.quantity) },
    { label: "Filled", value: (o) => format.quantity(o.filled_quantity) },
    { label: "Limit/Stop", value: (o) => (o.limit_price || o.stop_price) ? format.price(o.limit_price || o.stop_price) : "–" },
    { label: "Avg fill", value: (o) => o.avg_fill_price ? format.price(o.avg_fill_price) : "–" },
    { label: "Status", value: (o) => o.status + (o.reject_code ? ` (${o.reject_code})` : "") },
  ];

  async function refresh() {
    const [open, history, positions, plans, approvals] = await Promise.all([
      AL.all("/api/v1/orders/open"), get("/api/v1/orders/history?page_size=50"), get("/api/v1/positions"),
      AL.all("/api/v1/plans/"), AL.all("/api/v1/approvals/?status=PENDING"),
    ]);
    // AL.all answers the rows; history is its first page; positions is one document.
    const list = (r) => (r.ok ? (Array.isArray(r.data) ? r.data : r.data.results || r.data.positions) : []);
    const openOrders = list(open);
    for (const id of confirming) if (!openOrders.some((o) => o.id === id)) confirming.delete(id);
    table("open-orders", [...orderColumns, { label: "", value: cancelCell }], openOrders, "No open orders.");
    table("history", orderColumns, list(history), "No orders yet.");
    table("positions", [
      { label: "Symbol", value: (p) => p.symbol }, { label: "Qty", value: (p) => format.quantity(p.quantity) }, { label: "Avg cost", value: (p) => format.price(p.avg_cost) },
      { label: "Price", value: (p) => format.price(p.price) }, { label: "Value", value: (p) => money(p.market_value) },
      { label: "Unrealized", value: (p) => money(p.unrealized_pnl), cls: (p) => signClass(p.unrealized_pnl) },
      { label: "Realized", value: (p) => money(p.realized_pnl), cls: (p) => signClass(p.realized_pnl) },
    ], list(positions), "No open positions.");
    table("plans-table", [
      { label: "#", value: (p) => p.id }, { label: "Symbol", value: (p) => p.symbol }, { label: "Dir", value: (p) => p.direction },
      { label: "Entry", value: (p) => format.price(p.entry_price) }, { label: "Stop", value: (p) => format.price(p.stop_price) },
      { label: "Target", value: (p) => format.price(p.target_price) }, { label: "Qty", value: (p) => format.quantity(p.quantity) }, { label: "Status", value: (p) => p.status },
      { label: "", value: (p) => ["PENDING", "ACTIVE"].includes(p.status) ? el("button", { class: "small", onclick: () => execute(p.id) }, "Execute") : "" },
    ], list(plans), "No plans.");
    table("approvals-table", [
      { label: "#", value: (a) => a.id }, { label: "Source", value: (a) => a.source }, { label: "Reason", value: (a) => a.reason },
      { label: "Plan", value: (a) => planLabel(a.plan) }, { label: "Expires", value: (a) => timeET(a.expires_at) },
      { label: "Last attempt", value: (a) => a.refused_at ? `Refused ${timeET(a.refused_at)}: ${a.refusal_reason} (${a.refusal_code})` : "–",
        cls: (a) => a.refused_at ? "down" : "" },
      { label: "", value: (a) => el("span", {}, el("button", { class: "small primary", onclick: () => decide(a.id, true) }, "Approve"), " ",
          el("button", { class: "small danger", onclick: () => decide(a.id, false) }, "Reject")) },
    ], list(approvals), "No approvals waiting.");
  }

  // Import fills: a multipart upload (AL's helpers send JSON), with a token from the login session.
  async function uploadFills(form) {
    const csrf = (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1] || "";
    const session = await fetch("/session-token", { method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": decodeURIComponent(csrf) } });
    if (!session.ok) return { ok: false, status: session.status, data: { detail: "Your session has ended: sign in again." } };
    const body = new FormData();
    body.append("file", form.elements.file.files[0]);
    body.append("format", form.elements.format.value);
    body.append("dry_run", form.elements.mode.value === "dry_run" ? "true" : "false");
    const response = await fetch("/api/v1/orders/import-fills", { method: "POST", body,
      headers: { Authorization: "Bearer " + (await session.json()).access } });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (err) { data = { detail: text }; }
    return { ok: response.ok, status: response.status, data };
  }

  const dateTimeET = (iso) => new Date(iso).toLocaleString("en-US", { timeZone: "America/New_York", year: "numeric",
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }) + " ET";

  function importReport(data) {
    const host = document.getElementById("import-result");
    if (!data || !Array.isArray(data.errors)) {
      host.replaceChildren(el("div", { class: "notice bad" }, `Not imported: ${errors(data)}`));
      return;
    }
    const cls = data.status === "refused" ? "bad" : data.skipped.length ? "warn" : "ok";
    const parts = [el("div", { class: "notice " + cls }, data.detail)];
    if (data.imported) {
      parts.push(el("p", { class: "muted" }, `${data.orders_created} new order(s); ${data.symbols.join(", ")}; executions from `
        + `${dateTimeET(data.first_executed_at)} to ${dateTimeET(data.last_executed_at)}.`));
    }
    if (data.instruments_created.length) {
      parts.push(el("p", { class: "muted" }, `New symbols, no prices yet (fetch_bars or import_bars): ${data.instruments_created.join(", ")}.`));
    }
    const notes = [...data.errors.map((n) => ({ ...n, kind: "Bad row" })), ...data.skipped.map((n) => ({ ...n, kind: "Skipped" }))];
    const rows = el("div", { id: "import-rows" });
    parts.push(rows);
    host.replaceChildren(...parts);
    if (notes.length) {
      table(rows, [{ label: "Line", value: (n) => n.line }, { label: "", value: (n) => n.kind, cls: (n) => n.kind === "Bad row" ? "down" : "" },
        { label: "What happened", value: (n) => n.message }], notes);
    }
  }

  document.getElementById("import-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    notice("import-result", "Importing…", "warn");
    try {
      const { data } = await uploadFills(event.target);
      importReport(data);
    } catch (err) {
      notice("import-result", "The server could not be reached.", "bad");
    } finally {
      button.disabled = false;
    }
    refresh();
  });

  function sessionNote(data) {
    const note = document.getElementById("ticket-session");
    note.replaceChildren(el("strong", {}, `NYSE ${data.text}.`), ` ${data.orders_detail}`);
    note.className = data.orders_accepted ? "muted" : "notice warn";
  }

  document.addEventListener("alphaloop:session", (event) => sessionNote(event.detail));
  if (AlphaLoop.session()) sessionNote(AlphaLoop.session());

  document.addEventListener("alphaloop:event", (event) => {
    const { channel, event: name } = event.detail;
    if (channel === "order_update" || (channel === "notification" && name === "approval_requested")) refresh();
  });
  refresh();
})();
