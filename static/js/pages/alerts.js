(function () {
  "use strict";
  const { get, all, post, patch, del, money, el, table, errors, formData } = AL;
  let status = "";

  function notice(text, cls) { document.getElementById("alert-result").replaceChildren(el("div", { class: "notice " + cls }, text)); }

  document.getElementById("alert-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = formData(event.target);
    body.symbol = (body.symbol || "").toUpperCase();
    if (body.expires_at) body.expires_at = new Date(body.expires_at).toISOString();
    const { ok, data } = await post("/api/v1/alerts/create", body);
    notice(ok ? `Alert #${data.id} on ${data.symbol} is ${data.alert_status}.` : errors(data), ok ? "ok" : "bad");
    if (ok) { event.target.reset(); AlphaLoop.watch([data.symbol]); }
    refresh();
  });

  document.querySelectorAll("[data-status]").forEach((button) => button.addEventListener("click", () => { status = button.dataset.status; refresh(); }));

  async function setStatus(id, alert_status) { await patch(`/api/v1/alerts/${id}`, { alert_status }); refresh(); }

  // Threshold editing happens in the alert's row: Edit turns the cell into a field (Enter or Save sends
  // it, Escape or Cancel keeps the old value; a refusal is shown under the field). The draft survives
  // the table being redrawn by a live update.
  let editing = null; // { id, draft, error }

  function startEdit(alert) { editing = { id: alert.id, draft: String(Number(alert.threshold)), error: "" }; refresh(); }
  function cancelEdit() { editing = null; refresh(); }
  async function saveEdit() {
    const { ok, data } = await patch(`/api/v1/alerts/${editing.id}`, { threshold: editing.draft.trim() });
    if (ok) { notice(`Alert #${data.id}: threshold ${Number(data.threshold)}.`, "ok"); editing = null; }
    else editing.error = errors(data);
    refresh();
  }

  function thresholdCell(alert) {
    if (!editing || editing.id !== alert.id) return Number(alert.threshold);
    const field = el("input", { type: "text", inputmode: "decimal", class: "inline-edit", "aria-label": "Threshold", value: editing.draft,
      oninput: (e) => { editing.draft = e.target.value; },
      onkeydown: (e) => { if (e.key === "Enter") { e.preventDefault(); saveEdit(); } else if (e.key === "Escape") cancelEdit(); } });
    return el("span", { class: "inline-editor" }, field,
      el("button", { class: "small primary", onclick: saveEdit }, "Save"), el("button", { class: "small", onclick: cancelEdit }, "Cancel"),
      editing.error ? el("div", { class: "field-error" }, editing.error) : null);
  }
  async function remove(id) { if (confirm("Delete this alert?")) { await del(`/api/v1/alerts/${id}`); refresh(); } }

  async function refresh() {
    const [alerts, history] = await Promise.all([all(`/api/v1/alerts/list${status ? "?status=" + status : ""}`), get("/api/v1/alerts/history?page_size=50")]);
    const list = (r) => (r.ok ? (Array.isArray(r.data) ? r.data : r.data.results) : []);
    table("alerts-table", [
      { label: "#", value: (a) => a.id, phone: false }, { label: "Symbol", value: (a) => a.symbol },
      { label: "Condition", value: (a) => `${a.condition_type}${a.direction ? " " + a.direction : ""}` },
      { label: "Threshold", value: thresholdCell }, { label: "Action", value: (a) => a.action + (a.linked_plan_id ? ` (plan #${a.linked_plan_id})` : ""), phone: false },
      { label: "Status", value: (a) => a.alert_status }, { label: "Triggered", value: (a) => a.triggered_at ? new Date(a.triggered_at).toLocaleString() : "–", phone: false },
      { label: "", value: (a) => el("span", { class: "row-actions" },
          a.alert_status === "ACTIVE" ? el("button", { class: "small", onclick: () => setStatus(a.id, "PAUSED") }, "Pause") : null,
          a.alert_status === "PAUSED" ? el("button", { class: "small", onclick: () => setStatus(a.id, "ACTIVE") }, "Resume") : null, " ",
          ["ACTIVE", "PAUSED"].includes(a.alert_status) ? el("button", { class: "small", onclick: () => startEdit(a) }, "Edit") : null, " ",
          el("button", { class: "small danger", onclick: () => remove(a.id) }, "Delete")) },
    ], list(alerts), "No alerts.");
    table("history", [
      { label: "When", value: (h) => new Date(h.trigger_time).toLocaleString() }, { label: "Alert", value: (h) => `#${h.alert_id ?? h.alert}` },
      { label: "Symbol", value: (h) => h.symbol }, { label: "Price", value: (h) => money(h.trigger_price) },
      { label: "Notified", value: (h) => (h.notification_sent ? "yes" : "no") }, { label: "Action", value: (h) => h.action_taken },
    ], list(history), "No alert has fired yet.");
    const field = document.querySelector("#alerts-table input.inline-edit");
    if (field) { field.focus(); field.setSelectionRange(field.value.length, field.value.length); }
  }

  document.addEventListener("alphaloop:event", (event) => { if (event.detail.channel === "price_alert") refresh(); });
  refresh();
})();
