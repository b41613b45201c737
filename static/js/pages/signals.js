(function () {
  "use strict";
  const { get, post, el, table, ratio } = AL;

  async function showEvidence(signal) {
    document.getElementById("evidence-symbol").textContent = `${signal.symbol} (${signal.direction}, score ${signal.score})`;
    const rows = Object.entries(signal.factors || {}).map(([name, v]) => ({ name, ...v }));
    table("evidence", [
      { label: "Factor", value: (f) => f.name }, { label: "Value", value: (f) => (f.value === null ? "–" : Number(f.value).toFixed(4)) },
      { label: "z-score", value: (f) => (f.zscore === null ? "–" : Number(f.zscore).toFixed(2)), cls: (f) => AL.signClass(f.zscore) },
    ], rows);
    const { ok, data } = await get(`/api/v1/factors/${signal.symbol}?names=rsi_14,macd&days=120`);
    const host = document.getElementById("factor-chart");
    host.replaceChildren();
    if (!ok) return;
    const chart = AL.lineChart(host);
    const series = (name, color, scale) => chart.addLineSeries({ color, lineWidth: 1, title: name, priceScaleId: scale })
      .setData(data.factors[name].filter((p) => p.value !== null).map((p) => ({ time: p.date, value: p.value })));
    series("rsi_14", "#f0b429", "right");
    series("macd", "#4c9aff", "left");
    series("macd_signal", "#8b98a5", "left");
    chart.applyOptions({ leftPriceScale: { visible: true } });
    chart.timeScale().fitContent();
  }

  async function load() {
    const { ok, data } = await get("/api/v1/signals/latest?limit=100");
    if (!ok) return;
    document.getElementById("as-of").textContent = data.as_of ? `scan of ${data.as_of}` : "no scan yet";
    table("signals", [
      { label: "Symbol", value: (s) => el("a", { href: "#evidence", onclick: () => showEvidence(s) }, s.symbol) },
      { label: "Direction", value: (s) => s.direction, cls: (s) => (s.direction === "LONG" ? "up" : s.direction === "SHORT" ? "down" : "") },
      { label: "Strength", value: (s) => Number(s.strength).toFixed(2) }, { label: "Score", value: (s) => Number(s.score).toFixed(2) },
      { label: "Win rate", value: (s) => ratio(s.win_rate, 0) }, { label: "R:R", value: (s) => s.rr_ratio ?? "–" },
      { label: "Sample", value: (s) => s.sample_size }, { label: "Horizon", value: (s) => `${s.horizon_days}d` },
    ], data.signals, "No signals yet: run a scan.");
  }

  document.getElementById("scan").addEventListener("click", async (event) => {
    event.target.disabled = true;
    event.target.textContent = "Scanning…";
    await post("/api/v1/signals/run", {});
    event.target.disabled = false;
    event.target.textContent = "Run scan now";
    load();
  });
  load();
})();
