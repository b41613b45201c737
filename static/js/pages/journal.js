(function () {
  "use strict";
  const { get, post, money, el, table, errors, formData, signClass } = AL;
  let page = 1;

  async function load() {
    const filters = formData(document.getElementById("filters"));
    const query = new URLSearchParams({ page, page_size: 20, ...filters });
    const { ok, data } = await get(`/api/v1/journal/list?${query}`);
    if (!ok) return;
    const rows = data.results;
    table("journal", [
      { label: "#", value: (j) => el("a", { href: `/journal/${j.id}/` }, `#${j.id}`) }, { label: "Symbol", value: (j) => j.symbol },
      { label: "Dir", value: (j) => j.direction }, { label: "Entry", value: (j) => `${j.entry_date ?? "–"} @ ${j.entry_price ?? "–"}`, phone: false },
      { label: "Exit", value: (j) => `${j.exit_date ?? "–"} @ ${j.exit_price ?? "–"}`, phone: false },
      { label: "P&L", value: (j) => money(j.realized_pnl), cls: (j) => signClass(j.realized_pnl) },
      { label: "Emotion", value: (j) => j.emotion_state, phone: false },
      { label: "Mistakes", value: (j) => (j.mistake_tags || []).join(", "), phone: false },
      { label: "Status", value: (j) => j.journal_status },
    ], rows, "No journal entries yet: closing a trade creates a draft.");
    document.getElementById("page").textContent = `page ${page} · ${data.count} entries`;
    document.getElementById("prev").disabled = !data.previous;
    document.getElementById("next").disabled = !data.next;
  }

  document.getElementById("filters").addEventListener("submit", (e) => { e.preventDefault(); page = 1; load(); });
  document.getElementById("prev").addEventListener("click", () => { page -= 1; load(); });
  document.getElementById("next").addEventListener("click", () => { page += 1; load(); });
  document.getElementById("create").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = formData(e.target);
    body.symbol = (body.symbol || "").toUpperCase();
    const { ok, data } = await post("/api/v1/journal/create", body);
    document.getElementById("create-result").replaceChildren(el("div", { class: "notice " + (ok ? "ok" : "bad") }, ok ? `Entry #${data.id} created.` : errors(data)));
    if (ok) { e.target.reset(); load(); }
  });
  document.getElementById("weekly").addEventListener("submit", async (e) => {
    e.preventDefault();
    const box = document.getElementById("weekly-result");
    box.replaceChildren(el("p", { class: "muted" }, "Building…"));
    const { ok, data } = await get(`/api/v1/journal/weekly-report?date=${formData(e.target).date}`);
    if (!ok) { box.replaceChildren(el("div", { class: "notice bad" }, errors(data))); return; }
    const stats = data.stats || data.summary || {};
    box.replaceChildren(
      el("div", { class: "cards" }, Object.entries(stats).filter(([, v]) => typeof v !== "object").map(([k, v]) => el("div", { class: "card stat" }, el("span", {}, k.replaceAll("_", " ")), el("strong", {}, v ?? "–")))),
      el("pre", { class: "review" }, data.report || data.narrative || ""));
  });
  const wanted = new URLSearchParams(location.search).get("status");
  if (wanted) document.querySelector("#filters [name=status]").value = wanted;
  document.querySelector("#weekly [name=date]").value = new Date().toISOString().slice(0, 10);
  load();
})();
