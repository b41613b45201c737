(function () {
  "use strict";
  const { get, post, el, table, ratio, errors } = AL;

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

  function signalsTable(target, signals, empty) {
    table(target, [
      { label: "Symbol", value: (s) => el("a", { href: "#evidence", onclick: () => showEvidence(s) }, s.symbol) },
      { label: "Direction", value: (s) => s.direction, cls: (s) => (s.direction === "LONG" ? "up" : s.direction === "SHORT" ? "down" : "") },
      { label: "Strength", value: (s) => Number(s.strength).toFixed(2) }, { label: "Score", value: (s) => Number(s.score).toFixed(2) },
      { label: "Win rate", value: (s) => ratio(s.win_rate, 0) }, { label: "R:R", value: (s) => s.rr_ratio ?? "–" },
      { label: "Sample", value: (s) => s.sample_size }, { label: "Horizon", value: (s) => `${s.horizon_days}d` },
    ], signals, empty);
  }

  function notice(target, kind, text) {
    document.getElementById(target).replaceChildren(el("div", { class: `notice ${kind}` }, text));
  }

  function plural(count, word) { return `${count} ${word}${count === 1 ? "" : "s"}`; }

  function directions(signals) {
    const count = (d) => signals.filter((s) => s.direction === d).length;
    return `${count("LONG")} long, ${count("SHORT")} short, ${count("FLAT")} flat`;
  }

  async function load() {
    const { ok, data } = await get("/api/v1/signals/latest?page_size=100");
    if (!ok) { notice("scan-status", "bad", `Could not load the signals: ${errors(data)}`); return; }
    document.getElementById("as-of").textContent = data.count ? `scan of ${data.results[0].as_of}` : "no scan yet";
    signalsTable("signals", data.results, "No signals yet: a scan runs after each session's close.");
  }

  // The shared scan: staff only (the button is only on their page; the API refuses anyone else).
  const scan = document.getElementById("scan");
  if (scan) {
    scan.addEventListener("click", async () => {
      scan.disabled = true;
      scan.textContent = "Scanning…";
      notice("scan-status", "warn", "Scanning the last closed session…");
      try {
        const { ok, data } = await post("/api/v1/signals/run", {});
        if (ok) {
          notice("scan-status", "ok", `Scan of ${data.as_of} done: ${plural(data.count, "signal")} stored (${directions(data.signals)}).`);
          await load();
        } else {
          notice("scan-status", "bad", `Scan failed: ${errors(data)}`);
        }
      } catch (err) {
        notice("scan-status", "bad", `Scan failed: ${err.message}`);
      } finally {
        scan.disabled = false;
        scan.textContent = "Run scan now";
      }
    });
  }

  // The what-if: anyone, own weights; answered, never stored, nobody notified.
  const weights = document.getElementById("weights");

  function weightInput(name, value) {
    const input = el("input", { type: "number", step: "any", value, "data-weight": name });
    weights.appendChild(el("label", {}, name, input));
  }

  async function initWhatIf() {
    const [defaults, catalog] = await Promise.all([get("/api/v1/signals/weights"), AL.all("/api/v1/factors")]);
    if (!defaults.ok) { notice("what-if-status", "bad", `Could not load the default weights: ${errors(defaults.data)}`); return; }
    Object.entries(defaults.data.weights).forEach(([name, value]) => weightInput(name, value));
    const add = document.getElementById("add-factor");
    if (catalog.ok) {
      const outputs = catalog.data.flatMap((factor) => factor.outputs).filter((name) => !(name in defaults.data.weights)).sort();
      add.append(...outputs.map((name) => el("option", { value: name }, name)));
    }
    add.addEventListener("change", () => {
      if (add.value && !weights.querySelector(`[data-weight="${add.value}"]`)) weightInput(add.value, 1);
      add.querySelector(`option[value="${add.value}"]`)?.remove();
      add.value = "";
    });
  }

  document.getElementById("what-if").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { what_if: true, weights: {} };
    const asOf = event.target.querySelector("[name=as_of]").value;
    if (asOf) body.as_of = asOf;
    weights.querySelectorAll("[data-weight]").forEach((input) => {
      if (input.value !== "" && Number(input.value) !== 0) body.weights[input.dataset.weight] = Number(input.value);
    });
    const button = event.target.querySelector("button[type=submit]");
    button.disabled = true;
    notice("what-if-status", "warn", "Computing the what-if…");
    try {
      const { ok, data } = await post("/api/v1/signals/run", body);
      if (!ok) { notice("what-if-status", "bad", `What-if failed: ${errors(data)}`); return; }
      notice("what-if-status", "ok", `What-if for ${data.as_of}: ${plural(data.count, "signal")} (${directions(data.signals)}); not stored, nobody notified.`);
      const strongest = [...data.signals].sort((a, b) => Number(b.strength) - Number(a.strength) || a.symbol.localeCompare(b.symbol));
      signalsTable("what-if-result", strongest, "No symbol could be scored on that session.");
    } catch (err) {
      notice("what-if-status", "bad", `What-if failed: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  });

  load();
  initWhatIf();
})();
