(function () {
  "use strict";
  const { get, all, post, money, el, table, errors, formData, signClass } = AL;
  let strategies = {};
  let current = null;  // the run shown in #result
  const selected = new Set();
  const METRICS = [["total_return", "Total return", "pct"], ["cagr", "CAGR", "pct"], ["annual_volatility", "Volatility", "pct"],
    ["sharpe", "Sharpe", "num"], ["sortino", "Sortino", "num"], ["calmar", "Calmar", "num"], ["max_dd", "Max drawdown", "pct"],
    ["max_dd_duration_days", "DD duration (days)", "int"], ["n_trades", "Trades", "int"], ["win_rate", "Win rate", "pct"],
    ["profit_factor", "Profit factor", "num"], ["expectancy", "Expectancy", "money"], ["exposure_time", "Exposure", "pct"],
    ["alpha", "Alpha", "pct"], ["beta", "Beta", "num"], ["final_equity", "Final equity", "money"],
    ["risk_free_rate", "Risk-free rate (Sharpe, Sortino, alpha)", "pct"]];
  // A walk-forward's first grid, per strategy (any other: its first two numeric parameters around their defaults).
  const GRIDS = {
    sma_cross: { fast: [5, 10, 20], slow: [30, 50, 100] },
    rsi_reversion: { lower: [25, 30, 35], exit: [50, 55, 60] },
    factor_rank: { top_n: [3, 5, 10], rebalance_days: [10, 21] },
  };

  function costsText(run) {
    const percent = (fraction) => `${parseFloat((Number(fraction) * 100).toPrecision(6))}%`;  // 0.0005 -> 0.05%
    const cap = run.max_volume_fraction === null || run.max_volume_fraction === undefined
      ? "no volume cap" : `fills capped at ${percent(run.max_volume_fraction)} of a bar's volume`;
    return `Costs: commission ${percent(run.commission)} of notional · slippage ${Number(run.slippage_bps)} bps · `
      + `spread ${percent(run.spread)} (half against each fill) · ${cap}`;
  }

  function fmt(value, kind) {
    if (value === null || value === undefined) return "–";
    if (kind === "pct") return (value * 100).toFixed(2) + "%";
    if (kind === "money") return money(value);
    if (kind === "int") return String(value);
    return Number(value).toFixed(2);
  }

  // Colours a reader tells apart: the strategy, its benchmark, buy and sell markers, the drawdown.
  const COLORS = { equity: "#4c9aff", benchmark: "#d1d4dc", buy: "#26a69a", sell: "#ff9800", drawdown: "#ef5350",
    live: "#ffd54f", missed: "#ff9800", extra: "#90caf9" };
  const AXIS_WIDTH = 84;  // both panes' price axes equally wide, so their dates line up
  const charts = {};  // host id -> charts drawn there, removed before drawing again

  function chartsIn(hostId, ...made) {
    (charts[hostId] || []).forEach((chart) => chart.remove());
    charts[hostId] = made;
    return made;
  }

  function change(value, start) { return `${value >= start ? "+" : ""}${((value / start - 1) * 100).toFixed(2)}%`; }

  // Load data into a part of the page; a failure says what failed and offers to try again.
  async function panel(host, what, load, render) {
    host.replaceChildren(el("p", { class: "muted" }, `Loading ${what}…`));
    let result;
    try { result = await load(); } catch (err) { result = { ok: false, data: { detail: String(err.message || err) } }; }
    if (!result.ok) {
      host.replaceChildren(el("div", { class: "notice bad" }, `Could not load ${what}: ${errors(result.data)} `,
        el("button", { type: "button", class: "small retry", onclick: () => panel(host, what, load, render) }, "Retry")));
      return;
    }
    host.replaceChildren();
    render(result.data);
  }

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
    const [equityChart, ddChart] = chartsIn("bt", AL.lineChart(equityHost, { height: 260 }), AL.lineChart(ddHost, { height: 150 }));
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

  function readJson(text, what) {
    try { return { value: JSON.parse(text) }; } catch (err) { return { error: `${what}: not valid JSON (${err.message}).` }; }
  }

  async function showResult(id) {
    const status = document.getElementById("run-status");
    let answer;
    try { answer = await get(`/api/v1/backtest/results/${id}`); } catch (err) { answer = { ok: false, data: { detail: String(err.message || err) } }; }
    if (!answer.ok) {
      status.replaceChildren(el("div", { class: "notice bad" }, `Could not load run #${id}: ${errors(answer.data)} `,
        el("button", { type: "button", class: "small retry", onclick: () => showResult(id) }, "Retry")));
      return;
    }
    const data = answer.data;
    if (data.status === "PENDING" || data.status === "RUNNING") {
      const bar = el("div");
      bar.style.width = `${Math.round(data.progress * 100)}%`;  // a style attribute would break the CSP
      status.replaceChildren(el("p", {}, `Run #${id} ${data.status.toLowerCase()}…`), el("div", { class: "progress" }, bar));
      setTimeout(() => showResult(id), 700);
      return;
    }
    if (data.status === "FAILED") { status.replaceChildren(el("div", { class: "notice bad" }, `Run #${id} failed: ${data.error}`)); return; }
    status.replaceChildren(el("div", { class: "notice ok" }, `Run #${id} finished.`));
    current = data;
    const section = document.getElementById("result");
    section.hidden = false;
    document.getElementById("result-title").textContent = `#${id} ${data.strategy_id} ${JSON.stringify(data.params)} on ${data.symbols.join(", ")}${data.default_universe ? " (the strategy's default universe)" : ""}`;
    document.getElementById("bt-actions").replaceChildren(
      el("a", { class: "button", id: "tearsheet-html", href: `/backtests/${id}/tearsheet.html`, download: "" }, "Download tearsheet (HTML)"),
      el("a", { class: "button", href: `/backtests/${id}/tearsheet.zip`, download: "" }, "Tearsheet + PNG plots (zip)"),
      el("button", { type: "button", id: "compare-live", onclick: () => compareRunLive(data) }, "Compare with my account"));
    document.getElementById("bt-costs").textContent = costsText(data);
    drawCharts(data);
    table("bt-metrics", [{ label: "Metric", value: (m) => m[1] }, { label: "Value", value: (m) => fmt(data.metrics[m[0]], m[2]) }], METRICS);
    table("bt-trades", [
      { label: "Symbol", value: (t) => t.symbol }, { label: "Dir", value: (t) => t.direction }, { label: "Entry", value: (t) => `${t.entry_date} @ ${t.entry_price}` },
      { label: "Exit", value: (t) => `${t.exit_date} @ ${t.exit_price}` }, { label: "Qty", value: (t) => t.quantity },
      { label: "P&L", value: (t) => money(t.pnl), cls: (t) => signClass(t.pnl) }, { label: "Return", value: (t) => fmt(t.return_pct, "pct") },
    ], data.trades.slice(-200).reverse(), "No closed trades.");
    const capped = data.volume_capped_orders || [];
    const cappedHost = document.getElementById("bt-capped");
    cappedHost.replaceChildren();
    if (capped.length) {
      cappedHost.appendChild(el("h3", {}, `Orders cut by the volume cap (${capped.length})`));
      const rows = el("div");
      cappedHost.appendChild(rows);
      table(rows, [{ label: "Order", value: (o) => `#${o.order_id}` }, { label: "Placed", value: (o) => o.placed },
        { label: "Symbol", value: (o) => o.symbol }, { label: "Status", value: (o) => o.status }, { label: "Reason", value: (o) => o.reason }],
        capped.slice(0, 200));
    }
    loadRobustness();
    loadSensitivity(data.sweep_id);
    loadRuns();
  }

  // -- robustness ------------------------------------------------------------------------------

  function mcQuery() {
    const form = formData(document.getElementById("mc-form"));
    return new URLSearchParams({ paths: form.paths || "1000", seed: form.seed || "1", ruin_pct: form.ruin_pct || "50" });
  }

  function loadRobustness() {
    if (!current) return;
    const id = current.id;
    panel(document.getElementById("robustness"), "the robustness report", () => get(`/api/v1/backtest/results/${id}/robustness?${mcQuery()}`), renderRobustness);
  }

  // Lightweight Charts plots time; these charts plot a count (trades, bins): time k+1 shown as k.
  function countChart(host, height, label) {
    const chart = AL.lineChart(host, { height });
    chart.applyOptions({
      localization: { timeFormatter: (t) => label(t - 1) },
      timeScale: { tickMarkFormatter: (t) => String(t - 1), fixLeftEdge: true, fixRightEdge: true },
      rightPriceScale: { minimumWidth: AXIS_WIDTH },
    });
    return chart;
  }

  function renderRobustness(report) {
    const host = document.getElementById("robustness");
    const mc = report.monte_carlo;
    if (!mc) {
      host.appendChild(el("p", { class: "muted", id: "mc-note" }, report.monte_carlo_note));
    } else {
      const pct = (v) => fmt(v, "pct");
      const row = (label, dist, show, ruin, loss) => ({ label, dist, show, ruin, loss });
      const rows = [
        row("Resampled: final equity", mc.bootstrap.final_equity, money, mc.bootstrap.probability_of_ruin, mc.bootstrap.probability_of_loss),
        row("Resampled: max drawdown", mc.bootstrap.max_drawdown, pct, null, null),
        row("Reshuffled: final equity", mc.shuffle.final_equity, money, null, mc.shuffle.probability_of_loss),
        row("Reshuffled: max drawdown", mc.shuffle.max_drawdown, pct, mc.shuffle.probability_of_ruin, null),
      ];
      const summary = el("div", { id: "mc-summary" });
      host.append(
        el("p", { id: "mc-caption" }, `Monte Carlo over the run's ${mc.n_trades} trade returns (each trade's P&L over the equity before it), `
          + `${mc.paths} paths per method, seed ${mc.seed}. Ruin: a drawdown of ${(mc.ruin_drawdown * 100).toFixed(0)}% from the peak. `
          + `The run's own order: final ${money(mc.actual.final_equity)}, max drawdown ${pct(mc.actual.max_drawdown)} (between trade closes).`),
        summary);
      table(summary, [{ label: "", value: (r) => r.label }, ...["p5", "p25", "p50", "p75", "p95"].map((p) => ({ label: p === "p50" ? "median" : `${p.slice(1)}%`, value: (r) => r.show(r.dist[p]) })),
        { label: "P(ruin)", value: (r) => (r.ruin === null ? "" : pct(r.ruin)) }, { label: "P(loss)", value: (r) => (r.loss === null ? "" : pct(r.loss)) }], rows);
      const legend = el("p", { class: "legend", id: "mc-legend" },
        legendItem(COLORS.equity, "median"), legendItem("rgba(76, 154, 255, 0.55)", "25–75%"), legendItem("rgba(76, 154, 255, 0.25)", "5–95%"),
        legendItem(COLORS.live, "the run's own order"), legendItem(COLORS.drawdown, "paths by max drawdown (right)"));
      const fanHost = el("div", { class: "chart", id: "mc-fan", role: "img", "aria-label": "Equity percentiles of the resampled paths over the trades" });
      const ddHost = el("div", { class: "chart", id: "mc-dd", role: "img", "aria-label": "Number of resampled paths by maximum drawdown" });
      host.append(legend, el("div", { class: "subgrid" }, fanHost, ddHost));
      const [fan, dd] = chartsIn("mc", countChart(fanHost, 260, (k) => `after trade ${k}`), countChart(ddHost, 260, (k) => `bin ${k}`));
      const points = (values) => mc.bootstrap.fan.trade.map((k, i) => ({ time: k + 1, value: values[i] }));
      const line = (values, color, width, title) => fan.addLineSeries({ color, lineWidth: width, title, priceLineVisible: false, lastValueVisible: false,
        priceFormat: { type: "price", precision: 0, minMove: 1 } }).setData(points(values));
      line(mc.bootstrap.fan.p5, "rgba(76, 154, 255, 0.25)", 1, "5%");
      line(mc.bootstrap.fan.p95, "rgba(76, 154, 255, 0.25)", 1, "95%");
      line(mc.bootstrap.fan.p25, "rgba(76, 154, 255, 0.55)", 1, "25%");
      line(mc.bootstrap.fan.p75, "rgba(76, 154, 255, 0.55)", 1, "75%");
      line(mc.bootstrap.fan.p50, COLORS.equity, 2, "median");
      line(mc.actual.fan, COLORS.live, 2, "actual");
      fan.timeScale().fitContent();
      const bins = mc.bootstrap.histogram.max_drawdown;
      dd.applyOptions({ localization: { timeFormatter: (t) => `drawdown ${(bins.edges[t - 1] * 100).toFixed(1)}% to ${(bins.edges[t] * 100).toFixed(1)}%` },
        timeScale: { tickMarkFormatter: (t) => `${(bins.edges[t - 1] * 100).toFixed(0)}%` } });
      dd.addHistogramSeries({ color: COLORS.drawdown, priceFormat: { type: "volume" }, title: "paths" })
        .setData(bins.counts.map((count, i) => ({ time: i + 1, value: count, color: bins.edges[i + 1] <= -mc.ruin_drawdown ? COLORS.sell : COLORS.drawdown })));
      dd.timeScale().fitContent();
    }
    const rg = report.regimes;
    if (!rg) {
      host.appendChild(el("p", { class: "muted", id: "regimes-note" }, report.regimes_note));
      return;
    }
    const box = el("div", { id: "regimes" });
    host.append(el("h3", {}, "By market regime"), el("p", { class: "muted" }, "Each day's regime is decided at the previous close; a trade belongs to its entry day's regime."), box);
    const widest = Math.max(0.0001, ...rg.regimes.map((r) => Math.abs(r.annual_return || 0)));
    const bar = (value) => {
      const fill = el("div");
      const share = Math.min(1, Math.abs(value || 0) / widest) * 50;
      fill.style.width = `${share}%`;
      fill.style.left = value >= 0 ? "50%" : `${50 - share}%`;
      fill.style.background = value >= 0 ? COLORS.buy : COLORS.drawdown;
      return el("div", { class: "bar-track" }, el("div", { class: "zero" }), fill);
    };
    table(box, [
      { label: "Regime", value: (r) => r.label }, { label: "Days", value: (r) => r.days }, { label: "Return", value: (r) => fmt(r.total_return, "pct"), cls: (r) => signClass(r.total_return) },
      { label: "Annualised", value: (r) => fmt(r.annual_return, "pct") }, { label: "", value: (r) => bar(r.annual_return) },
      { label: "Sharpe", value: (r) => fmt(r.sharpe, "num") }, { label: "SPY", value: (r) => fmt(r.spy_total_return, "pct") },
      { label: "Trades", value: (r) => r.trades.n_trades }, { label: "Win rate", value: (r) => fmt(r.trades.win_rate, "pct") },
      { label: "Trade P&L", value: (r) => money(r.trades.pnl), cls: (r) => signClass(r.trades.pnl) },
    ], rg.regimes);
  }

  function loadSensitivity(sweepId) {
    const host = document.getElementById("sensitivity");
    if (!sweepId) { host.replaceChildren(); return; }
    panel(host, "the sweep's heatmap", () => get(`/api/v1/backtest/sweeps/${sweepId}/sensitivity`), renderSensitivity);
  }

  function heat(value, low, high) {
    if (value === null) return "transparent";
    const t = high > low ? (value - low) / (high - low) : 0.5;
    const red = [239, 83, 80], green = [38, 166, 154], mid = [240, 180, 41];
    const mix = (a, b, s) => a.map((v, i) => Math.round(v + (b[i] - v) * s));
    const rgb = t < 0.5 ? mix(red, mid, t * 2) : mix(mid, green, (t - 0.5) * 2);
    return `rgb(${rgb.join(", ")})`;
  }

  function renderSensitivity(s) {
    const host = document.getElementById("sensitivity");
    const values = s.cells.flat().filter((v) => v !== null);
    const low = Math.min(...values), high = Math.max(...values);
    const head = el("tr", {}, el("th", {}, s.y ? `${s.y.name} \\ ${s.x.name}` : s.x.name), ...s.x.values.map((v) => el("th", {}, String(v))));
    const rows = (s.y ? s.y.values : [null]).map((yv, r) => el("tr", {}, el("th", {}, yv === null ? s.objective : String(yv)), ...s.cells[r].map((v, c) => {
      const isBest = s.best && s.best.run_id === s.run_ids[r][c];
      const cell = el("td", { class: `cell${isBest ? " best" : ""}${v === null ? " empty" : ""}`, title: s.run_ids[r][c] ? `run #${s.run_ids[r][c]}` : "no finished run" }, v === null ? "–" : v.toFixed(2));
      cell.style.background = heat(v, low, high);
      return cell;
    })));
    const n = s.neighbours;
    const verdict = !s.best ? "No finished run yet." : `Best ${s.objective} ${s.best.value.toFixed(2)} at ${s.x.name} = ${s.best.x}${s.y ? `, ${s.y.name} = ${s.best.y}` : ""}`
      + (n ? `; its ${n.count} neighbours average ${n.mean.toFixed(2)} (lowest ${n.min.toFixed(2)}), ${(n.relative_drop * 100).toFixed(0)}% below the best: `
        + (n.relative_drop > 0.5 ? "a lone peak, likely luck." : n.relative_drop > 0.2 ? "a slope: the edge fades nearby." : "a plateau: robust to small changes.") : ".");
    host.append(el("h3", {}, `Sensitivity of the sweep (${s.finished} of ${s.runs} runs finished)`),
      el("p", { class: "muted" }, s.best_over.length ? `Each cell is the best over ${s.best_over.join(", ")}.` : "Each cell is one run."),
      el("div", { class: "table-wrap" }, el("table", { class: "heatmap", id: "heatmap" }, el("thead", {}, head), el("tbody", {}, rows))),
      el("p", { id: "sensitivity-verdict" }, verdict));
  }

  // -- runs --------------------------------------------------------------------------------------

  async function loadRuns() {
    const { ok, data } = await all("/api/v1/backtest/runs");
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
    // The first row: what each run paid (runs with other costs are not like for like).
    const rows = [[null, "Costs", "costs"], ...METRICS];
    table("compare", [{ label: "Metric", value: (m) => m[1] }, ...chosen.map((r) => ({ label: `#${r.id} ${r.strategy_id}`,
      value: (m) => (m[2] === "costs" ? costsText(r).replace("Costs: ", "") : fmt(r.metrics[m[0]], m[2])) }))], rows);
  }

  document.getElementById("run-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = document.getElementById("run-status");
    const body = formData(event.target);
    // No symbols: the strategy's default universe (the result says which symbols that was).
    const symbols = (body.symbols || "").split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
    if (symbols.length) body.symbols = symbols; else delete body.symbols;
    body.params = params();
    if (body.grid) {
      const grid = readJson(body.grid, "Sweep grid");
      if (grid.error) { status.replaceChildren(el("div", { class: "notice bad" }, grid.error)); return; }
      body.grid = grid.value;
      for (const name of Object.keys(body.grid)) delete body.params[name];
      status.replaceChildren(el("p", {}, "Sweep running…"));
      const { ok, data } = await post("/api/v1/backtest/sweep", body);
      if (!ok) { status.replaceChildren(el("div", { class: "notice bad" }, errors(data))); return; }
      showResult(data.runs[0].id);
      return;
    }
    delete body.grid;
    const { ok, data } = await post("/api/v1/backtest/run", body);
    if (!ok) { status.replaceChildren(el("div", { class: "notice bad" }, errors(data))); return; }
    showResult(data.id);
  });

  document.getElementById("mc-form").addEventListener("submit", (event) => { event.preventDefault(); loadRobustness(); });

  // -- walk-forward ------------------------------------------------------------------------------

  function defaultGrid(id) {
    if (GRIDS[id]) return GRIDS[id];
    const grid = {};
    for (const [name, spec] of Object.entries(strategies[id].params)) {
      if (Object.keys(grid).length < 2 && (spec.type === "integer" || spec.type === "number") && spec.default) {
        const v = spec.default;
        grid[name] = spec.type === "integer" ? [Math.max(1, Math.round(v / 2)), v, v * 2] : [v / 2, v, v * 2];
      }
    }
    return grid;
  }

  function wfBody(form) {
    const body = formData(form);
    const symbols = (body.symbols || "").split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
    if (symbols.length) body.symbols = symbols; else delete body.symbols;
    const grid = readJson(body.grid || "", "Grid");
    if (grid.error) return { error: grid.error };
    body.grid = grid.value;
    body.params = {};  // the strategy's defaults; the grid varies the rest
    for (const name of ["train_days", "test_days", "step_days"]) if (body[name] !== undefined) body[name] = parseInt(body[name], 10);
    body.anchored = document.getElementById("wf-anchored").checked;
    return { body };
  }

  async function showWalkForward(id) {
    const status = document.getElementById("wf-status");
    let answer;
    try { answer = await get(`/api/v1/backtest/walk-forward/${id}`); } catch (err) { answer = { ok: false, data: { detail: String(err.message || err) } }; }
    if (!answer.ok) {
      status.replaceChildren(el("div", { class: "notice bad" }, `Could not load walk-forward #${id}: ${errors(answer.data)} `,
        el("button", { type: "button", class: "small retry", onclick: () => showWalkForward(id) }, "Retry")));
      return;
    }
    const wf = answer.data;
    if (wf.status === "PENDING" || wf.status === "RUNNING") {
      const bar = el("div");
      bar.style.width = `${Math.round((wf.windows_done / Math.max(1, wf.windows_total)) * 100)}%`;
      status.replaceChildren(el("p", {}, `Walk-forward #${id}: ${wf.windows_done} of ${wf.windows_total} windows done…`), el("div", { class: "progress" }, bar));
      setTimeout(() => showWalkForward(id), 800);
      return;
    }
    if (wf.status === "FAILED") { status.replaceChildren(el("div", { class: "notice bad" }, `Walk-forward #${id} failed: ${wf.error}`)); loadWalkForwards(); return; }
    status.replaceChildren(el("div", { class: "notice ok" }, `Walk-forward #${id} finished: ${wf.windows_total} windows x ${wf.combinations.length} combinations.`));
    renderWalkForward(wf);
    loadWalkForwards();
  }

  function renderWalkForward(wf) {
    document.getElementById("wf-result").hidden = false;
    const r = wf.result;
    const keys = Object.keys(wf.grid);
    const chosen = (p) => (p ? keys.map((k) => `${k}=${p[k]}`).join(" ") : "not traded");
    document.getElementById("wf-title").textContent = `#${wf.id} ${wf.strategy_id} on ${wf.symbols.join(", ")}: ${wf.anchored ? "anchored" : "rolling"} ${wf.train_days}/${wf.test_days} sessions, step ${wf.step_days}, maximising ${wf.objective}`;
    const eff = r.efficiency === null ? "undefined (the mean in-sample CAGR is not positive)" : r.efficiency.toFixed(2);
    document.getElementById("wf-summary").textContent = `Walk-forward efficiency ${eff}: out-of-sample CAGR ${fmt(r.metrics.cagr, "pct")} against a mean in-sample CAGR of ${fmt(r.in_sample_mean_cagr, "pct")}. `
      + `${r.windows_profitable} of ${wf.windows_total} test windows profitable.` + (wf.skipped.length ? ` ${wf.skipped.length} combination(s) skipped: ${wf.skipped[0].reason}.` : "")
      + ` ${costsText(wf)}.`;
    const curve = r.equity_curve;
    const start = Number(wf.initial_capital);
    const host = document.getElementById("wf-chart");
    const [chart] = chartsIn("wf", AL.lineChart(host, { height: 260 }));
    chart.applyOptions({ rightPriceScale: { minimumWidth: AXIS_WIDTH } });
    const dollars = { type: "price", precision: 0, minMove: 1 };
    const line = chart.addLineSeries({ color: COLORS.equity, lineWidth: 2, title: "Out of sample", priceFormat: dollars });
    line.setData(curve.map((p) => ({ time: p.date, value: p.equity })));
    const hasBenchmark = curve.some((p) => p.benchmark !== null);
    if (hasBenchmark) chart.addLineSeries({ color: COLORS.benchmark, lineWidth: 1, title: "SPY", priceFormat: dollars }).setData(curve.map((p) => ({ time: p.date, value: p.benchmark })));
    line.setMarkers(wf.windows.map((w) => ({ time: w.test_start, position: "aboveBar", shape: "arrowDown", color: COLORS.sell, text: `W${w.index + 1}` })));
    chart.timeScale().fitContent();
    const last = curve[curve.length - 1];
    const legend = document.getElementById("wf-legend");
    const byDate = new Map(curve.map((p) => [p.date, p]));
    const show = (p) => legend.replaceChildren(el("span", { class: "muted" }, `${p.date} (window ${p.window + 1})  `),
      legendItem(COLORS.equity, `Out of sample ${money(p.equity)} (${change(p.equity, start)})`),
      hasBenchmark ? legendItem(COLORS.benchmark, `SPY ${money(p.benchmark)} (${change(p.benchmark, start)})`) : "",
      legendItem(COLORS.sell, `▼ ${wf.windows.length} test windows`));
    chart.subscribeCrosshairMove((param) => show((param.time && byDate.get(param.time)) || last));
    show(last);
    table("wf-metrics", [{ label: "Out of sample", value: (m) => m[1] }, { label: "Value", value: (m) => fmt(r.metrics[m[0]], m[2]) }],
      METRICS.filter((m) => ["total_return", "cagr", "sharpe", "max_dd", "n_trades", "win_rate", "profit_factor", "final_equity"].includes(m[0])));
    table("wf-windows", [
      { label: "#", value: (w) => w.index + 1 }, { label: "Train", value: (w) => `${w.train_start} → ${w.train_end}` },
      { label: "Test", value: (w) => `${w.test_start} → ${w.test_end}` }, { label: "Chosen", value: (w) => chosen(w.result.params) },
      { label: `In-sample ${wf.objective}`, value: (w) => fmt(w.result.objective_in_sample, "num") },
      { label: `Out-of-sample ${wf.objective}`, value: (w) => fmt(w.result.objective_out_of_sample, "num") },
      { label: "OOS return", value: (w) => fmt(w.result.out_of_sample.total_return, "pct"), cls: (w) => signClass(w.result.out_of_sample.total_return) },
      { label: "Efficiency", value: (w) => fmt(w.result.efficiency, "num") },
    ], wf.windows);
  }

  async function loadWalkForwards() {
    const { ok, data } = await all("/api/v1/backtest/walk-forward");
    if (!ok) return;
    table("wf-runs", [
      { label: "#", value: (w) => el("a", { href: "#wf-card", onclick: () => showWalkForward(w.id) }, `#${w.id}`) }, { label: "Strategy", value: (w) => w.strategy_id },
      { label: "Grid", value: (w) => JSON.stringify(w.grid) }, { label: "Symbols", value: (w) => w.symbols.join(",") },
      { label: "Windows", value: (w) => `${w.windows_done}/${w.windows_total}` }, { label: "Objective", value: (w) => w.objective }, { label: "Status", value: (w) => w.status },
    ], data, "No walk-forward yet.");
  }

  document.getElementById("wf-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = document.getElementById("wf-status");
    const { body, error } = wfBody(event.target);
    if (error) { status.replaceChildren(el("div", { class: "notice bad" }, error)); return; }
    status.replaceChildren(el("p", {}, "Walk-forward starting…"));
    const { ok, data } = await post("/api/v1/backtest/walk-forward", body);
    if (!ok) { status.replaceChildren(el("div", { class: "notice bad" }, errors(data))); return; }
    showWalkForward(data.id);
  });

  // -- live versus backtest ----------------------------------------------------------------------

  function compareRunLive(run) {
    document.getElementById("lc-run").value = run.id;
    document.getElementById("lc-strategy").value = run.strategy_id;
    document.getElementById("lc-params").value = JSON.stringify(run.params);
    document.getElementById("lc-symbols").value = run.symbols.join(",");
    document.getElementById("lc-run-note").textContent = `Replaying run #${run.id}: its strategy, parameters, costs and symbols (change the strategy to replay another).`;
    document.getElementById("lc-card").scrollIntoView();
  }

  function lcQuery(form) {
    const data = formData(form);
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(data)) {
      if (key === "params" && data.run_id) continue;
      if (key === "strategy_id" && data.run_id) continue;
      query.set(key, key === "symbols" ? value.toUpperCase().replace(/\s+/g, "") : value);
    }
    return query;
  }

  function renderLive(report) {
    document.getElementById("lc-result").hidden = false;
    const t = report.totals;
    const card = (label, value, extra, cls) => el("p", { class: "stat" }, el("span", {}, label), el("strong", { class: cls || "" }, value), el("small", {}, extra || ""));
    document.getElementById("lc-totals").replaceChildren(
      card("Live P&L", money(t.live_pnl), `your ${t.matched + t.extra} trades`, signClass(t.live_pnl)),
      card("Backtest P&L", money(t.backtest_pnl), `on ${money(report.initial_capital)}`, signClass(t.backtest_pnl)),
      card("Difference", money(t.pnl_difference), "live − backtest", signClass(t.pnl_difference)),
      card("Slippage", money(t.slippage), t.avg_slippage_bps === null ? "no matched trade" : `${t.avg_slippage_bps} bps on average`, signClass(t.slippage)),
      card("Size effect", money(t.size_effect), "other quantities"),
      card("Commissions", money(t.commission_difference), "live − backtest, negated"),
      card("Missed trades", String(t.missed), `${money(t.missed_pnl)} of the gap`, signClass(t.missed_pnl)),
      card("Extra trades", String(t.extra), `${money(t.extra_pnl)} of the gap`, signClass(t.extra_pnl)));
    const curve = report.curve;
    const host = document.getElementById("lc-chart");
    const [chart] = chartsIn("lc", AL.lineChart(host, { height: 260 }));
    chart.applyOptions({ rightPriceScale: { minimumWidth: AXIS_WIDTH } });
    const dollars = { type: "price", precision: 0, minMove: 1 };
    const backtest = chart.addLineSeries({ color: COLORS.equity, lineWidth: 2, title: "Backtest", priceFormat: dollars });
    backtest.setData(curve.map((p) => ({ time: p.date, value: Number(p.backtest_pnl) })));
    const live = chart.addLineSeries({ color: COLORS.live, lineWidth: 2, title: "Live", priceFormat: dollars });
    live.setData(curve.map((p) => ({ time: p.date, value: Number(p.live_pnl) })));
    const inRange = (date) => date >= curve[0].date && date <= curve[curve.length - 1].date;
    const marks = (kind, side) => report.rows.filter((r) => r.kind === kind && inRange((r.backtest || r.live).date)).map((r) => ({
      time: (r.backtest || r.live).date, position: r.side === "buy" ? "belowBar" : "aboveBar", shape: r.side === "buy" ? "arrowUp" : "arrowDown",
      color: COLORS[kind], text: `${kind === "missed" ? "missed" : "extra"} ${r.symbol}` }));
    const sorted = (list) => list.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    backtest.setMarkers(sorted(marks("missed")));
    live.setMarkers(sorted(marks("extra")));
    chart.timeScale().fitContent();
    const legend = document.getElementById("lc-legend");
    const byDate = new Map(curve.map((p) => [p.date, p]));
    const show = (p) => legend.replaceChildren(el("span", { class: "muted" }, `${p.date}  `),
      legendItem(COLORS.equity, `Backtest ${money(p.backtest_pnl)}`), legendItem(COLORS.live, `Live ${money(p.live_pnl)}`),
      legendItem(COLORS.missed, `${t.missed} missed`), legendItem(COLORS.extra, `${t.extra} extra`));
    chart.subscribeCrosshairMove((param) => show((param.time && byDate.get(param.time)) || curve[curve.length - 1]));
    show(curve[curve.length - 1]);
    const host2 = document.getElementById("lc-rows");
    table(host2, [
      { label: "", value: (r) => r.kind }, { label: "Symbol", value: (r) => r.symbol }, { label: "Side", value: (r) => r.side },
      { label: "Backtest", value: (r) => (r.backtest ? `${r.backtest.date} ${r.backtest.quantity} @ ${Number(r.backtest.price).toFixed(2)}` : "–") },
      { label: "Live", value: (r) => (r.live ? `${r.live.date} ${r.live.quantity} @ ${Number(r.live.price).toFixed(2)}${r.live.fills > 1 ? ` (${r.live.fills} fills)` : ""}` : "–") },
      { label: "Slippage/share", value: (r) => (r.slippage_per_share === null ? "–" : Number(r.slippage_per_share).toFixed(4)) },
      { label: "bps", value: (r) => r.slippage_bps ?? "–" }, { label: "Slippage $", value: (r) => money(r.slippage), cls: (r) => signClass(r.slippage) },
      { label: "Backtest P&L", value: (r) => money(r.backtest_pnl) }, { label: "Live P&L", value: (r) => money(r.live_pnl) },
      { label: "Difference", value: (r) => money(r.pnl_difference), cls: (r) => signClass(r.pnl_difference) },
    ], report.rows, "No trades on either side in the range.");
    host2.querySelectorAll("tbody tr").forEach((tr, i) => tr.classList.add(report.rows[i].kind));
  }

  document.getElementById("lc-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = lcQuery(event.target);
    const params = query.get("params");
    if (params) { const parsed = readJson(params, "Params"); if (parsed.error) { document.getElementById("lc-status").replaceChildren(el("div", { class: "notice bad" }, parsed.error)); return; } }
    panel(document.getElementById("lc-status"), "the comparison", () => get(`/api/v1/backtest/live-compare?${query}`), (report) => {
      document.getElementById("lc-status").replaceChildren(el("div", { class: "notice ok" },
        `${report.strategy_id} ${JSON.stringify(report.params)} on ${report.symbols.join(", ")}, ${report.start_date} to ${report.end_date}: `
        + `${report.totals.matched} matched, ${report.totals.missed} missed, ${report.totals.extra} extra. Replayed on ${money(report.initial_capital)} (${report.capital_source}).`));
      renderLive(report);
    });
  });
  document.getElementById("lc-strategy").addEventListener("change", () => {
    document.getElementById("lc-run").value = "";
    document.getElementById("lc-run-note").textContent = "";
  });

  // -- start -------------------------------------------------------------------------------------

  function setDates(form, yearsBack) {
    const end = new Date(); const start = new Date(); start.setFullYear(end.getFullYear() - yearsBack);
    form.querySelector("[name=start_date]").value = start.toISOString().slice(0, 10);
    form.querySelector("[name=end_date]").value = end.toISOString().slice(0, 10);
  }

  async function init() {
    const { data } = await all("/api/v1/backtest/strategies");
    strategies = Object.fromEntries(data.map((s) => [s.id, s]));
    const options = () => data.map((s) => el("option", { value: s.id }, s.id));
    const select = document.getElementById("strategy");
    select.replaceChildren(...options());
    select.value = "sma_cross";
    select.addEventListener("change", renderParams);
    renderParams();
    setDates(document.getElementById("run-form"), 3);
    const wfStrategy = document.getElementById("wf-strategy");
    wfStrategy.replaceChildren(...data.filter((s) => Object.keys(s.params).length).map((s) => el("option", { value: s.id }, s.id)));
    wfStrategy.value = "sma_cross";
    const wfGrid = document.getElementById("wf-grid");
    wfGrid.value = JSON.stringify(defaultGrid("sma_cross"));
    wfStrategy.addEventListener("change", () => { wfGrid.value = JSON.stringify(defaultGrid(wfStrategy.value)); });
    document.getElementById("wf-objective").replaceChildren(...["sharpe", "sortino", "calmar", "cagr", "total_return", "profit_factor", "expectancy", "win_rate", "max_dd"]
      .map((o) => el("option", { value: o }, o === "max_dd" ? "max_dd (shallowest)" : o)));
    setDates(document.getElementById("wf-form"), 3);
    const lcStrategy = document.getElementById("lc-strategy");
    lcStrategy.replaceChildren(...options());
    lcStrategy.value = "sma_cross";
    setDates(document.getElementById("lc-form"), 1);
    const accounts = await all("/api/v1/accounts/");
    if (accounts.ok) document.getElementById("lc-account").replaceChildren(...accounts.data.map((a) => el("option", { value: a.id }, a.code || `#${a.id}`)));
    loadRuns();
    loadWalkForwards();
  }
  init();
})();
