(function () {
  "use strict";
  const { get, money, el, table, signClass } = AL;
  let chart = null;

  // One window for every panel: the last N calendar days in New York, today included, as the API counts them
  // (equity/snapshots?days=N), so the chart, the cards and the tables describe the same sessions.
  function marketToday() { return new Intl.DateTimeFormat("en-CA", { timeZone: "America/New_York" }).format(new Date()); }
  function daysBefore(iso, days) { const d = new Date(iso + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() - days); return d.toISOString().slice(0, 10); }
  // API fractions (returns, alpha) are shown in percent; fields named *_pct are percent already.
  const fromFraction = (v) => (v === null || v === undefined ? "–" : (Number(v) * 100).toFixed(2) + "%");
  const percent = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits) + "%");

  function windowDates() {
    const days = Number(document.getElementById("days").value);
    const end = marketToday();
    return { days, start: daysBefore(end, days - 1), end };
  }

  async function loadCurve() {
    const { days } = windowDates();
    const host = document.getElementById("curve");
    const legend = document.getElementById("curve-legend");
    if (chart) { chart.remove(); chart = null; }
    legend.replaceChildren();
    host.replaceChildren(el("p", { class: "muted" }, "Loading…"));
    const answer = await get(`/api/v1/equity/snapshots?days=${days}`);
    if (!answer.ok) { AL.failed(host, "the equity history", answer, loadCurve); return; }
    const snapshots = answer.data.snapshots;
    if (!snapshots.length) { host.replaceChildren(el("p", { class: "muted" }, "No snapshots yet: they are written at 16:30 ET on each session.")); return; }
    host.replaceChildren();
    chart = AL.lineChart(host, { height: 300 });
    const account = AL.compounded(snapshots, "daily_return"), spy = AL.compounded(snapshots, "benchmark_return");
    chart.addLineSeries({ color: "#4c9aff", lineWidth: 2, title: "Account" }).setData(account);
    chart.addLineSeries({ color: "#8b98a5", lineWidth: 1, title: "SPY" }).setData(spy);
    chart.timeScale().fitContent();
    const last = (series) => series[series.length - 1].value;
    legend.replaceChildren(
      el("span", {}, `${snapshots[0].date} to ${snapshots[snapshots.length - 1].date}: `),
      el("span", { id: "curve-account", class: signClass(last(account)) }, `Account ${percent(last(account), 2)}`), " · ",
      el("span", { id: "curve-spy", class: signClass(last(spy)) }, `SPY ${percent(last(spy), 2)}`));
  }

  async function loadStats() {
    const { start, end } = windowDates();
    const host = document.getElementById("stats");
    const answer = await get(`/api/v1/equity/stats?start_date=${start}&end_date=${end}`);
    if (!answer.ok) { AL.failed(host, "the return statistics", answer, loadStats); return; }
    const s = answer.data;
    const cards = [
      ["Return", "stat-return", fromFraction(s.total_return), s.total_return],
      ["SPY", "stat-spy", fromFraction(s.benchmark_total_return), s.benchmark_total_return],
      ["Alpha (annual)", "stat-alpha", fromFraction(s.alpha), s.alpha],
      ["Beta vs SPY", "stat-beta", s.beta === null ? "–" : Number(s.beta).toFixed(2)],
      ["Sessions", "stat-sessions", String(s.observations)],
    ];
    host.replaceChildren(...cards.map(([label, id, text, sign]) => el("div", { class: "card stat" }, el("span", {}, label),
      el("strong", { id, class: sign === undefined ? "" : signClass(sign) }, text))));
  }

  async function loadMonthly() {
    const host = document.getElementById("monthly");
    const answer = await get("/api/v1/equity/monthly-returns");
    if (!answer.ok) { AL.failed(host, "the monthly returns", answer, loadMonthly); return; }
    const years = {};
    for (const m of answer.data.monthly_returns) { (years[m.year] = years[m.year] || {})[m.month] = m.return; }
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    table(host, [{ label: "Year", value: (y) => y[0] }, ...months.map((name, i) => ({
      label: name, value: (y) => fromFraction(y[1][i + 1]), cls: (y) => signClass(y[1][i + 1]) }))],
      Object.entries(years).sort(), "No monthly returns yet.");
  }

  async function loadAttribution(id, groupBy) {
    const { start, end } = windowDates();
    const host = document.getElementById(id);
    const answer = await get(`/api/v1/equity/pnl-attribution?start_date=${start}&end_date=${end}&group_by=${groupBy}`);
    if (!answer.ok) { AL.failed(host, "the P&L attribution", answer, () => loadAttribution(id, groupBy)); return; }
    table(host, [
      { label: "Label", value: (a) => a.label }, { label: "P&L", value: (a) => money(a.pnl), cls: (a) => signClass(a.pnl) },
      { label: "Share", value: (a) => percent(a.pct, 2) }, { label: "Trades", value: (a) => a.trades },
    ], answer.data.attributions, "No closed trades in the window.");
  }

  function load() {
    loadCurve();
    loadStats();
    loadMonthly();
    loadAttribution("by-symbol", "symbol");
    loadAttribution("by-strategy", "strategy");
  }

  document.getElementById("days").addEventListener("change", load);
  document.addEventListener("alphaloop:event", (event) => { if (event.detail.channel === "equity_update") load(); });
  load();
})();
