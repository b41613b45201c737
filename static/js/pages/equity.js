(function () {
  "use strict";
  const { get, money, el, table, signClass } = AL;
  let chart = null;

  function isoDaysAgo(days) { const d = new Date(); d.setDate(d.getDate() - days); return d.toISOString().slice(0, 10); }
  const fmtPct = (v) => (v === null || v === undefined ? "–" : (Number(v) * 100).toFixed(2) + "%");

  async function load() {
    const days = Number(document.getElementById("days").value);
    const start = isoDaysAgo(days), end = isoDaysAgo(0);
    const [snaps, monthly, bySymbol, byStrategy, stats] = await Promise.all([
      get(`/api/v1/equity/snapshots?days=${days}`), get(`/api/v1/equity/monthly-returns`),
      get(`/api/v1/equity/pnl-attribution?start_date=${start}&end_date=${end}&group_by=symbol`),
      get(`/api/v1/equity/pnl-attribution?start_date=${start}&end_date=${end}&group_by=strategy`),
      get(`/api/v1/equity/stats?start_date=${start}&end_date=${end}`),
    ]);
    const host = document.getElementById("curve");
    host.replaceChildren();
    if (snaps.ok && snaps.data.snapshots.length) {
      chart = AL.lineChart(host, { height: 300 });
      let bench = 1;
      const spy = [];
      const first = Number(snaps.data.snapshots[0].cumulative_return || 0);
      chart.addLineSeries({ color: "#4c9aff", lineWidth: 2, title: "Account" }).setData(snaps.data.snapshots.map((s) => ({ time: s.date, value: ((1 + Number(s.cumulative_return || 0)) / (1 + first) - 1) * 100 })));
      snaps.data.snapshots.forEach((s, i) => { if (i > 0) bench *= 1 + Number(s.benchmark_return || 0); spy.push({ time: s.date, value: (bench - 1) * 100 }); });
      chart.addLineSeries({ color: "#8b98a5", lineWidth: 1, title: "SPY" }).setData(spy);
      chart.timeScale().fitContent();
    } else host.appendChild(el("p", { class: "muted" }, "No snapshots yet: they are written at 16:30 ET on each session."));
    if (stats.ok) {
      const s = stats.data;
      const cards = [["Alpha (annual)", fmtPct(s.alpha)], ["Beta vs SPY", s.beta === null ? "–" : Number(s.beta).toFixed(2)],
        ["Return", fmtPct(s.total_return)], ["SPY", fmtPct(s.benchmark_return)], ["Observations", s.observations ?? s.n ?? "–"]];
      document.getElementById("stats").replaceChildren(...cards.map(([k, v]) => el("div", { class: "card stat" }, el("span", {}, k), el("strong", {}, v))));
    }
    if (monthly.ok) {
      const rows = monthly.data.months || monthly.data.monthly_returns || monthly.data;
      const years = {};
      for (const m of rows) { (years[m.year] = years[m.year] || {})[m.month] = m.return; }
      const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
      table("monthly", [{ label: "Year", value: (y) => y[0] }, ...months.map((name, i) => ({
        label: name, value: (y) => fmtPct(y[1][i + 1]), cls: (y) => signClass(y[1][i + 1]) }))],
        Object.entries(years).sort(), "No monthly returns yet.");
    }
    const attribution = (id, r) => table(id, [
      { label: "Label", value: (a) => a.label }, { label: "P&L", value: (a) => money(a.pnl), cls: (a) => signClass(a.pnl) },
      { label: "Share", value: (a) => (a.pct === null ? "–" : Number(a.pct).toFixed(1) + "%") },
    ], r.ok ? r.data.attributions : [], "No closed trades in the window.");
    attribution("by-symbol", bySymbol);
    attribution("by-strategy", byStrategy);
  }

  document.getElementById("days").addEventListener("change", load);
  document.addEventListener("alphaloop:event", (event) => { if (event.detail.channel === "equity_update") load(); });
  load();
})();
