(function () {
  "use strict";
  const { get, money, pct, ratio, signClass, el, table } = AL;
  const prices = {};

  function setText(id, text, cls) {
    const node = document.getElementById(id);
    node.textContent = text;
    if (cls !== undefined) node.className = cls;
  }

  async function loadSummary() {
    const { ok, data } = await get("/api/v1/dashboard/summary");
    if (!ok) return;
    setText("total_equity", money(data.total_equity));
    setText("cash", money(data.cash));
    setText("market_value", money(data.market_value));
    setText("daily_pnl", money(data.daily_pnl), signClass(data.daily_pnl));
    setText("daily_return_pct", pct(data.daily_return_pct), signClass(data.daily_return_pct));
    setText("mtd_return_pct", pct(data.mtd_return_pct), signClass(data.mtd_return_pct));
    setText("ytd_return_pct", pct(data.ytd_return_pct), signClass(data.ytd_return_pct));
    setText("plan_execution_rate", ratio(data.plan_execution_rate, 0));
    setText("active_plans_count", `${data.active_plans_count} active plan(s)`);
    setText("risk_level", data.risk_level, "risk-" + data.risk_level.toLowerCase());
    setText("risk_reasons", data.risk_reasons.join("; "));
    const x = data.exposure;
    table("exposure", [
      { label: "Greek", value: (r) => r[0] }, { label: "% equity", value: (r) => pct(r[1]) }, { label: "$", value: (r) => money(r[2]) },
    ], [["Delta", x.delta_pct, x.delta_dollars], ["Gamma (1%)", x.gamma_pct, x.gamma_dollars],
        ["Vega (1 vol pt)", x.vega_pct, x.vega_dollars], ["Theta (1 day)", x.theta_pct, x.theta_dollars]]);
    const pending = document.getElementById("pending");
    pending.replaceChildren(data.pending_actions.length
      ? el("ul", { class: "actions" }, data.pending_actions.map((a) => el("li", { class: "action-" + a.type }, el("a", { href: a.url }, a.title))))
      : el("p", { class: "muted" }, "Nothing needs you right now."));
    table("signals", [
      { label: "Symbol", value: (s) => s.symbol }, { label: "Dir", value: (s) => s.direction, cls: (s) => s.direction === "LONG" ? "up" : "down" },
      { label: "Strength", value: (s) => Number(s.strength).toFixed(2) }, { label: "Win rate", value: (s) => ratio(s.win_rate, 0) },
      { label: "R:R", value: (s) => s.rr_ratio ?? "–" }, { label: "n", value: (s) => s.sample_size },
    ], data.recent_signals, "No signals yet: run a scan on the Signals page.");
    table("alerts", [
      { label: "Symbol", value: (a) => a.symbol }, { label: "Price", value: (a) => money(a.trigger_price) },
      { label: "When", value: (a) => new Date(a.trigger_time).toLocaleString() }, { label: "Action", value: (a) => a.action_taken },
    ], data.recent_alerts, "No alert has fired yet.");
    table("positions", [
      { label: "Symbol", value: (p) => p.symbol }, { label: "Qty", value: (p) => Number(p.quantity) },
      { label: "Avg cost", value: (p) => money(p.avg_cost) }, { label: "Price", value: (p) => el("span", { "data-price": p.symbol }, money(p.price)) },
      { label: "Value", value: (p) => money(p.market_value) }, { label: "Unrealized", value: (p) => money(p.unrealized_pnl), cls: (p) => signClass(p.unrealized_pnl) },
    ], data.positions, "No open positions.");
    AlphaLoop.watch(data.positions.map((p) => p.symbol));
  }

  // Both charts come from one answer; if it fails they say so and offer a retry, never a blank box.
  let charts = [];
  async function loadCharts() {
    const hosts = ["equity-chart", "drawdown-chart"].map((id) => document.getElementById(id));
    charts.forEach((chart) => chart.remove());
    charts = [];
    hosts.forEach((host) => host.replaceChildren(el("p", { class: "muted" }, "Loading…")));
    const answer = await get("/api/v1/equity/snapshots?days=365");
    if (!answer.ok) { hosts.forEach((host) => AL.failed(host, "the equity history", answer, loadCharts)); return; }
    const snapshots = answer.data.snapshots;
    if (!snapshots.length) {
      hosts.forEach((host) => host.replaceChildren(el("p", { class: "muted" }, "No snapshots yet: they are written at 16:30 ET on each session.")));
      return;
    }
    hosts.forEach((host) => host.replaceChildren());
    const equityChart = AL.lineChart(hosts[0]);
    equityChart.addLineSeries({ color: "#4c9aff", lineWidth: 2, title: "Account" }).setData(AL.compounded(snapshots, "daily_return"));
    equityChart.addLineSeries({ color: "#8b98a5", lineWidth: 1, title: "SPY" }).setData(AL.compounded(snapshots, "benchmark_return"));
    equityChart.timeScale().fitContent();
    const ddChart = AL.lineChart(hosts[1]);
    ddChart.addAreaSeries({ lineColor: "#ef5350", topColor: "rgba(239,83,80,0.05)", bottomColor: "rgba(239,83,80,0.4)", invertFilledArea: true })
      .setData(snapshots.map((s) => ({ time: s.date, value: Number(s.drawdown || 0) * 100 })));
    ddChart.timeScale().fitContent();
    charts = [equityChart, ddChart];
  }

  async function loadTicker() {
    const { ok, data } = await AL.all("/api/v1/market/quotes");
    if (!ok) return;
    const box = document.getElementById("ticker");
    box.replaceChildren(...data.map((q) => {
      prices[q.symbol] = Number(q.price);
      return el("div", { class: "tick", "data-symbol": q.symbol }, el("b", {}, q.symbol), el("span", { "data-price": q.symbol }, Number(q.price).toFixed(2)));
    }));
    AlphaLoop.watch(data.map((q) => q.symbol));
  }

  document.addEventListener("alphaloop:tick", (event) => {
    const t = event.detail;
    const before = prices[t.symbol];
    prices[t.symbol] = Number(t.price);
    document.querySelectorAll(`[data-price="${t.symbol}"]`).forEach((node) => {
      node.textContent = Number(t.price).toFixed(2);
      node.className = before === undefined ? "" : Number(t.price) >= before ? "up flash" : "down flash";
    });
  });

  let refreshTimer = null;
  document.addEventListener("alphaloop:event", (event) => {
    if (["order_update", "equity_update", "price_alert", "risk_warning", "signal_fired"].includes(event.detail.channel)) {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(loadSummary, 300);
    }
  });

  document.getElementById("desktop-permission").addEventListener("click", () => AlphaLoop.askDesktopPermission());
  loadSummary();
  loadCharts();
  loadTicker();
  setInterval(loadSummary, 30000);
})();
