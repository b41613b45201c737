(function () {
  "use strict";
  const { get, post, money, el, table, errors, formData, signClass } = AL;
  let strategies = {};
  const selected = new Set();
  const METRICS = [["total_return", "Total return", "pct"], ["cagr", "CAGR", "pct"], ["annual_volatility", "Volatility", "pct"],
    ["sharpe", "Sharpe", "num"], ["sortino", "Sortino", "num"], ["calmar", "Calmar", "num"], ["max_dd", "Max drawdown", "pct"],
    ["max_dd_duration_days", "DD duration (days)", "int"], ["n_trades", "Trades", "int"], ["win_rate", "Win rate", "pct"],
    ["profit_factor", "Profit factor", "num"], ["expectancy", "Expectancy", "money"], ["exposure_time", "Exposure", "pct"],
    ["alpha", "Alpha", "pct"], ["beta", "Beta", "num"], ["final_equity", "Final equity", "money"]];

  function fmt(value, kind) {
    if (value === null || value === undefined) return "–";
    if (kind === "pct") return (value * 100).toFixed(2) + "%";
    if (kind === "money") return money(value);
    if (kind === "int") return String(value);
    return Number(value).toFixed(2);
  }

  function renderParams() {
    const strategy = strategies[document.getElementById("strategy").value];
    const box = document.getElementById("params");
    box.replaceChildren(...Object.entries(strategy.params).map(([name, spec]) =>
      el("label", { title: spec.description || "" }, name,
        spec.type === "boolean"
          ? el("select", { "data-param": name, "data-type": spec.type }, el("option", spec.default ? { selected: "" } : {}, "true"), el("option", spec.default ? {} : { selected: "" }, "false"))
          : el("input", { "data-param": name, "data-type": spec.type, type: spec.type === "string" ? "text" : "number", step: "any", value: spec.default }))));
    document.getElementById("strategy-description").textContent = strategy.description;
  }

  function params() {
    const out = {};
    document.querySelectorAll("[data-param]").forEach((input) => {
      const type = input.dataset.type;
      out[input.dataset.param] = type === "boolean" ? input.value === "true" : type === "integer" ? parseInt(input.value, 10) : type === "number" ? Number(input.value) : input.value;
    });
    return out;
  }

  async function showResult(id) {
    const { ok, data } = await get(`/api/v1/backtest/results/${id}`);
    if (!ok) return;
    const status = document.getElementById("run-status");
    if (data.status === "PENDING" || data.status === "RUNNING") {
      const bar = el("div");
      bar.style.width = `${Math.round(data.progress * 100)}%`;  // a style attribute would break the CSP
      status.replaceChildren(el("p", {}, `Run #${id} ${data.status.toLowerCase()}…`), el("div", { class: "progress" }, bar));
      setTimeout(() => showResult(id), 700);
      return;
    }
    if (data.status === "FAILED") { status.replaceChildren(el("div", { class: "notice bad" }, `Run #${id} failed: ${data.error}`)); return; }
    status.replaceChildren(el("div", { class: "notice ok" }, `Run #${id} finished.`));
    const section = document.getElementById("result");
    section.hidden = false;
    document.getElementById("result-title").textContent = `#${id} ${data.strategy_id} ${JSON.stringify(data.params)} on ${data.symbols.join(", ")}`;
    const host = document.getElementById("bt-chart");
    host.replaceChildren();
    const chart = AL.lineChart(host);
    chart.addLineSeries({ color: "#4c9aff", lineWidth: 2, title: "Equity" }).setData(data.equity_curve.map((p) => ({ time: p.date, value: p.equity })));
    chart.addLineSeries({ color: "#ef5350", lineWidth: 1, priceScaleId: "dd", title: "Drawdown %" }).setData(data.equity_curve.map((p) => ({ time: p.date, value: p.drawdown * 100 })));
    chart.priceScale("dd").applyOptions({ scaleMargins: { top: 0.75, bottom: 0 } });
    chart.timeScale().fitContent();
    table("bt-metrics", [{ label: "Metric", value: (m) => m[1] }, { label: "Value", value: (m) => fmt(data.metrics[m[0]], m[2]) }], METRICS);
    table("bt-trades", [
      { label: "Symbol", value: (t) => t.symbol }, { label: "Dir", value: (t) => t.direction }, { label: "Entry", value: (t) => `${t.entry_date} @ ${t.entry_price}` },
      { label: "Exit", value: (t) => `${t.exit_date} @ ${t.exit_price}` }, { label: "Qty", value: (t) => t.quantity },
      { label: "P&L", value: (t) => money(t.pnl), cls: (t) => signClass(t.pnl) }, { label: "Return", value: (t) => fmt(t.return_pct, "pct") },
    ], data.trades.slice(-200).reverse(), "No closed trades.");
    loadRuns();
  }

  async function loadRuns() {
    const { ok, data } = await get("/api/v1/backtest/runs");
    if (!ok) return;
    table("runs", [
      { label: "", value: (r) => el("input", { type: "checkbox", onchange: (e) => { e.target.checked ? selected.add(r.id) : selected.delete(r.id); compare(data); } }) },
      { label: "#", value: (r) => el("a", { href: "#result", onclick: () => showResult(r.id) }, `#${r.id}`) }, { label: "Strategy", value: (r) => r.strategy_id },
      { label: "Params", value: (r) => JSON.stringify(r.params) }, { label: "Symbols", value: (r) => r.symbols.join(",") },
      { label: "Status", value: (r) => r.status }, { label: "Return", value: (r) => fmt(r.metrics?.total_return, "pct") },
      { label: "Sharpe", value: (r) => fmt(r.metrics?.sharpe, "num") },
    ], data, "No runs yet.");
  }

  function compare(runs) {
    const chosen = runs.filter((r) => selected.has(r.id) && r.metrics);
    if (chosen.length < 2) { document.getElementById("compare").replaceChildren(); return; }
    table("compare", [{ label: "Metric", value: (m) => m[1] }, ...chosen.map((r) => ({ label: `#${r.id} ${r.strategy_id}`, value: (m) => fmt(r.metrics[m[0]], m[2]) }))], METRICS);
  }

  document.getElementById("run-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = formData(event.target);
    body.symbols = body.symbols.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
    body.params = params();
    const { ok, data } = await post("/api/v1/backtest/run", body);
    if (!ok) { document.getElementById("run-status").replaceChildren(el("div", { class: "notice bad" }, errors(data))); return; }
    showResult(data.id);
  });

  async function init() {
    const { data } = await get("/api/v1/backtest/strategies");
    strategies = Object.fromEntries(data.map((s) => [s.id, s]));
    const select = document.getElementById("strategy");
    select.replaceChildren(...data.map((s) => el("option", { value: s.id }, s.id)));
    select.value = "sma_cross";
    select.addEventListener("change", renderParams);
    renderParams();
    const end = new Date(); const start = new Date(); start.setFullYear(end.getFullYear() - 3);
    document.querySelector("[name=start_date]").value = start.toISOString().slice(0, 10);
    document.querySelector("[name=end_date]").value = end.toISOString().slice(0, 10);
    loadRuns();
  }
  init();
})();
