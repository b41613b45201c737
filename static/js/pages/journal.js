(function () {
  "use strict";
  const { get, post, patch, money, ratio, el, table, errors, formData, signClass } = AL;
  const { price, quantity } = AlphaLoop.format;
  let page = 1;

  async function load() {
    const filters = formData(document.getElementById("filters"));
    const query = new URLSearchParams({ page, page_size: 20, ...filters });
    const host = document.getElementById("journal");
    const answer = await get(`/api/v1/journal/list?${query}`);
    if (!answer.ok) { AL.failed(host, "the journal", answer, load); return; }
    const data = answer.data;
    const rows = data.results;
    table(host, [
      { label: "#", value: (j) => el("a", { href: `/journal/${j.id}/` }, `#${j.id}`) }, { label: "Symbol", value: (j) => j.symbol },
      { label: "Dir", value: (j) => j.direction }, { label: "Qty", value: (j) => (j.quantity === null ? "–" : quantity(j.quantity)), phone: false },
      { label: "Entry", value: (j) => `${j.entry_date ?? "–"} @ ${price(j.entry_price)}`, phone: false },
      { label: "Exit", value: (j) => `${j.exit_date ?? "–"} @ ${price(j.exit_price)}`, phone: false },
      { label: "P&L", value: (j) => money(j.realized_pnl), cls: (j) => signClass(j.realized_pnl) },
      { label: "Emotion", value: (j) => j.emotion_state, phone: false },
      { label: "Mistakes", value: (j) => (j.mistake_tags || []).join(", "), phone: false },
      { label: "Status", value: (j) => j.journal_status },
    ], rows, "No journal entries yet: closing a trade creates a draft.");
    document.getElementById("page").textContent = `page ${page} · ${data.count} entries`;
    document.getElementById("prev").disabled = !data.previous;
    document.getElementById("next").disabled = !data.next;
  }

  // The mistake-tag vocabulary: add your own, rename or retire yours (built-ins: staff only).
  function tagNotice(text, cls) { document.getElementById("tag-result").replaceChildren(el("div", { class: "notice " + cls }, text)); }

  async function changeTag(tag, body, done) {
    const { ok, data } = await patch(`/api/v1/journal/tags/${tag.id}`, body);
    tagNotice(ok ? done(data) : errors(data), ok ? "ok" : "bad");
    if (ok) loadTags();
  }

  function tagActions(tag) {
    if (!tag.editable) return el("span", { class: "muted" }, tag.builtin ? "built-in (staff edit)" : "");
    const input = el("input", { name: "rename", value: tag.name, "aria-label": `New name for ${tag.name}`, size: "14" });
    return el("span", { class: "tag-actions" }, input,
      el("button", { type: "button", class: "small rename", onclick: () => changeTag(tag, { name: input.value.trim() }, (t) => `Renamed ${tag.name} to ${t.name}: the entries carrying it were updated.`) }, "Rename"),
      tag.retired
        ? el("button", { type: "button", class: "small restore", onclick: () => changeTag(tag, { retired: false }, (t) => `${t.name} is offered again.`) }, "Restore")
        : el("button", { type: "button", class: "small danger retire", onclick: () => changeTag(tag, { retired: true }, (t) => `${t.name} retired: entries keep it, new entries cannot use it.`) }, "Retire"));
  }

  async function loadTags() {
    const host = document.getElementById("tags");
    const answer = await AL.all("/api/v1/journal/tags");
    if (!answer.ok) { AL.failed(host, "the mistake tags", answer, loadTags); return; }
    table(host, [
      { label: "Tag", value: (t) => t.name }, { label: "Meaning", value: (t) => t.description || "–" },
      { label: "Whose", value: (t) => (t.builtin ? "built-in" : "yours") }, { label: "Status", value: (t) => (t.retired ? "retired" : "active") },
      { label: "", value: tagActions },
    ], answer.data.filter((t) => t.kind === "mistake"), "No mistake tags.");
  }

  document.getElementById("tag-add").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { kind: "mistake", ...formData(e.target) };
    const { ok, data } = await post("/api/v1/journal/tags", body);
    tagNotice(ok ? `Added ${data.name}.` : errors(data), ok ? "ok" : "bad");
    if (ok) { e.target.reset(); loadTags(); }
  });

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

  // The weekly report: its numbers, the breakdown by emotion and by mistake, and the narrative.
  document.getElementById("weekly").addEventListener("submit", async (e) => {
    e.preventDefault();
    const box = document.getElementById("weekly-result");
    box.replaceChildren(el("p", { class: "muted" }, "Building…"));
    const { ok, data } = await get(`/api/v1/journal/weekly-report?date=${formData(e.target).date}`);
    if (!ok) { box.replaceChildren(el("div", { class: "notice bad" }, errors(data))); return; }
    const cards = [["Week", `${data.week_start} to ${data.week_end}`], ["Trades", data.trades], ["Wins", data.wins], ["Losses", data.losses],
      ["Win rate", ratio(data.win_rate, 0)], ["P&L", money(data.total_pnl)], ["Average R", data.average_r ?? "–"]];
    const emotions = el("div", { id: "weekly-emotions" }), mistakes = el("div", { id: "weekly-mistakes" });
    box.replaceChildren(
      el("div", { class: "cards" }, cards.map(([k, v]) => el("div", { class: "card stat" }, el("span", {}, k), el("strong", {}, v)))),
      el("div", { class: "grid2" }, el("div", {}, el("h3", {}, "By emotion"), emotions), el("div", {}, el("h3", {}, "By mistake"), mistakes)),
      el("pre", { class: "review" }, data.narrative));
    table(emotions, [
      { label: "Emotion", value: (r) => r.emotion }, { label: "Trades", value: (r) => r.trades },
      { label: "Win rate", value: (r) => ratio(r.win_rate, 0) }, { label: "P&L", value: (r) => money(r.pnl), cls: (r) => signClass(r.pnl) },
    ], data.emotions, "No closed trades this week.");
    table(mistakes, [
      { label: "Mistake", value: (r) => r.tag }, { label: "Trades", value: (r) => r.count },
      { label: "P&L", value: (r) => money(r.pnl), cls: (r) => signClass(r.pnl) },
    ], data.mistakes, "No mistakes tagged this week.");
  });
  const wanted = new URLSearchParams(location.search).get("status");
  if (wanted) document.querySelector("#filters [name=status]").value = wanted;
  document.querySelector("#weekly [name=date]").value = new Intl.DateTimeFormat("en-CA", { timeZone: "America/New_York" }).format(new Date());
  load();
  loadTags();
})();
