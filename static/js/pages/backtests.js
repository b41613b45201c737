(function () {
  "use strict";
  const { get, post, money, el, table, errors, formData, signClass } = AL;
  let strategies = {};
  const selected = new Set();
  const METRICS = [["total_return", "Total return", "pct"], ["cagr", "CAGR", "pct"], ["annual_volatility", "Volatility", "pct"],
    ["sharpe", "Sharpe", "num"], ["sortino", "Sortino", "num"], ["calmar", "Calmar", "num"], ["max_dd", "Max drawdown", "pct"],
    ["max_dd_duration_days", "DD duration (days)", "int"], ["n_trades", "Trades", "int"], ["win_rate", "Win rate", "pct"],
    ["profit_factor", "Profit factor", "num"], ["expectancy", "Expectancy", "money"], ["exposure_time", "Exposure", "pct"],
    ["alpha", "Alpha", "pct"], ["beta", "Beta", "num"], ["final_equity", "Final equity", "money"],
    ["risk_free_rate", "Risk-free rate (Sharpe, Sortino, alpha)", "pct"]];

  function fmt(value, kind) {
    if (value === null || value === undefined) return "–";
    if (kind === "pct") return (value * 100).toFixed(2) + "%";
    if (kind === "money") return money(value);
    if (kind === "int") return String(value);
    return Number(value).toFixed(2);
  }

  // Colours a reader tells apart: the strategy, its benchmark, buy and sell markers, the drawdown.
  const COLORS = { equity: "#4c9aff", benchmark: "#d1d4dc", buy: "#26a69a", sell: "#ff9800", drawdown: "#ef5350" };
  const AXIS_WIDTH = 84;  // both panes' price axes equally wide, so their dates line up
  const charts = [];

  function change(value, start) { return `${value >= start ? "+" : ""}${((value / start - 1) * 100).toFixed(2)}%`; }

  // One marker per date and side: entries and exits of the closed trades, entries of the open ones.
  function tradeMarkers(data) {
    const many = data.symbols.length > 1;
    const groups = new Map();
    const add = (date, side, symbol) => {
      const key = `${date} ${side}`;
      if (!groups.has(key)) groups.set(key, { date, side, symbols: new Set() });
      groups.get(key).symbols.add(symbol);
    };
    for (const t of data.trades) {
      add(t.entry_date, t.direction === "long" ? "buy" : "sell", t.symbol);
      add(t.exit_date, t.direction === "long" ? "sell" : "buy", t.symbol);
    }
    for (const t of data.open_trades || []) add(t.entry_date, t.direction === "long" ? "buy" : "sell", t.symbol);
    return [...groups.values()].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.side === "sell" ? -1 : 1)).map((g) => ({
      time: g.date, position: g.side === "buy" ? "belowBar" : "aboveBar", shape: g.side === "buy" ? "arrowUp" : "arrowDown",
      color: COLORS[g.side], text: many ? `${g.side === "buy" ? "B" : "S"} ${[...g.symbols].join(",")}` : (g.side === "buy" ? "B" : "S"),
    }));
  }

  function legendItem(color, text) {
    const swatch = el("span", { class: "swatch" }, "■ ");
    swatch.style.color = color;  // CSSOM, not a style attribute: the CSP allows it
    return el("span", { class: "legend-item" }, swatch, text, "  ");
  }

  // Equity with SPY and the trades on its own dollar scale; drawdown below on its own percent scale.
  function drawCharts(data) {
    charts.splice(0).forEach((chart) => chart.remove());
    const curve = data.equity_curve;
    const start = Number(data.initial_capital);
    const byDate = new Map(curve.map((p) => [p.date, p]));
    const hasBenchmark = curve.some((p) => p.benchmark !== null && p.benchmark !== undefined);
    const markers = tradeMarkers(data);
    const buys = markers.filter((m) => m.shape === "arrowUp").length;
    const sells = markers.length - buys;
    const maxDrawdown = Math.min(...curve.map((p) => p.drawdown));

    const legend = document.getElementById("bt-legend");
    const ddLegend = document.getElementById("bt-dd-legend");
    function showLegend(point) {
      legend.replaceChildren(
        el("span", { class: "muted" }, `${point.date}  `),
        legendItem(COLORS.equity, `Strategy ${money(point.equity)} (${change(point.equity, start)})`),
        hasBenchmark ? legendItem(COLORS.benchmark, `SPY ${money(point.benchmark)} (${change(point.benchmark, start)})`) : el("span", { class: "muted" }, "SPY: no bars  "),
        legendItem(COLORS.buy, `▲ ${buys} buy markers`), legendItem(COLORS.sell, `▼ ${sells} sell markers`));
      ddLegend.replaceChildren(legendItem(COLORS.drawdown,
        `Drawdown ${(point.drawdown * 100).toFixed(2)}% (max ${(maxDrawdown * 100).toFixed(2)}%)`));
    }

    const equityHost = document.getElementById("bt-chart");
    const ddHost = document.getElementById("bt-drawdown");
    ddHost.style.height = "150px";
    const equityChart = AL.lineChart(equityHost, { height: 260 });
    const ddChart = AL.lineChart(ddHost, { height: 150 });
    charts.push(equityChart, ddChart);
    equityChart.applyOptions({ rightPriceScale: { minimumWidth: AXIS_WIDTH, scaleMargins: { top: 0.1, bottom: 0.1 } }, timeScale: { visible: false } });
    ddChart.applyOptions({ rightPriceScale: { minimumWidth: AXIS_WIDTH, scaleMargins: { top: 0.1, bottom: 0.05 } } });

    const dollars = { type: "price", precision: 0, minMove: 1 };
    const equity = equityChart.addLineSeries({ color: COLORS.equity, lineWidth: 2, title: "Strategy", priceFormat: dollars });
    equity.setData(curve.map((p) => ({ time: p.date, value: p.equity })));
    if (hasBenchmark) {
      equityChart.addLineSeries({ color: COLORS.benchmark, lineWidth: 1, title: "SPY", priceFormat: dollars })
        .setData(curve.filter((p) => p.benchmark !== null).map((p) => ({ time: p.date, value: p.benchmark })));
    }
    equity.setMarkers(markers);
    ddChart.addBaselineSeries({
      baseValue: { type: "price", price: 0 }, lineWidth: 1, title: "Drawdown",
      topLineColor: COLORS.drawdown, bottomLineColor: COLORS.drawdown,
      topFillColor1: "rgba(239, 83, 80, 0)", topFillColor2: "rgba(239, 83, 80, 0)",
      bottomFillColor1: "rgba(239, 83, 80, 0.15)", bottomFillColor2: "rgba(239, 83, 80, 0.5)",
      priceFormat: { type: "custom", minMove: 0.01, formatter: (value) => `${value.toFixed(1)}%` },
    }).setData(curve.map((p) => ({ time: p.date, value: p.drawdown * 100 })));

    // One time axis for both panes: scrolling or zooming either moves the other.
    let syncing = false;
    const follow = (from, to) => from.timeScale().subscribeVisibleLogicalRangeChange((range) => {
      if (syncing || !range) return;
      syncing = true;
      to.timeScale().setVisibleLogicalRange(range);
      syncing = false;
    });
    follow(equityChart, ddChart);
    follow(ddChart, equityChart);
    const hover = (param) => showLegend((param.time && byDate.get(param.time)) || curve[curve.length - 1]);
    equityChart.subscribeCrosshairMove(hover);
    ddChart.subscribeCrosshairMove(hover);
    equityChart.timeScale().fitContent();
    ddChart.timeScale().fitContent();
    showLegend(curve[curve.length - 1]);
  }

  function renderParams() {
    const strategy = strategies[document.getElementById("strategy").value];
    const box = document.getElementById("params");
    box.replaceChildren(...Object.entries(strategy.params).map(([name, spec]) =>
      el("label", { title: spec.description || "" }, name,
        spec.type === "boolean"
          ? el("select", { "data-param": name, "data-type": spec.type }, el("option", spec.default ? { selected: "" } : {}, "true"), el("option", spec.default ? {} : { selected: "" }, "false"))
          : el("input", { "data-param": name, "data-type": spec.type, type: spec.type === "string" ? "text" : "number", step: "any", value: spec.default }))));
    const universe = Array.isArray(strategy.default_universe) ? strategy.default_universe.join(", ") : `every ${strategy.default_universe.replace(/s$/, "")} with bars in the window`;
    document.getElementById("strategy-description").textContent = `${strategy.description} Without symbols it trades ${universe}.`;
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
    document.getElementById("result-title").textContent = `#${id} ${data.strategy_id} ${JSON.stringify(data.params)} on ${data.symbols.join(", ")}${data.default_universe ? " (the strategy's default universe)" : ""}`;
    drawCharts(data);
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
    // No symbols: the strategy's default universe (the result says which symbols that was).
    const symbols = (body.symbols || "").split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
    if (symbols.length) body.symbols = symbols; else delete body.symbols;
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
