(function () {
  "use strict";
  const { get, post, patch, el, errors } = AL;
  const form = document.getElementById("edit");
  const id = form.dataset.id;
  const read = (name) => JSON.parse(document.getElementById(name).textContent);

  function notice(text, cls) { document.getElementById("edit-result").replaceChildren(el("div", { class: "notice " + cls }, text)); }

  // The vocabulary (every page of GET journal/tags): active tags, plus the retired ones this entry already carries.
  function options(tags, kind, chosen) {
    return tags.filter((t) => t.kind === kind && (!t.retired || chosen.includes(t.name))).map((t) => el("option",
      { value: t.name, selected: chosen.includes(t.name) ? "" : null, title: t.description || null },
      t.retired ? `${t.name} (retired)` : t.name));
  }

  async function loadTags() {
    form.journal_status.value = read("current-status");
    const answer = await AL.all("/api/v1/journal/tags");
    if (!answer.ok) { AL.failed(document.getElementById("edit-result"), "the emotion and mistake tags", answer, loadTags); return; }
    const emotion = read("current-emotion"), mistakes = read("current-mistakes") || [];
    document.getElementById("emotion").replaceChildren(el("option", { value: "" }, "–"), ...options(answer.data, "emotion", emotion ? [emotion] : []));
    document.getElementById("mistakes").replaceChildren(...options(answer.data, "mistake", mistakes));
    document.getElementById("edit-result").replaceChildren();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      execution_quality: form.execution_quality.value ? Number(form.execution_quality.value) : null,
      emotion_state: form.emotion_state.value || null,
      mistake_tags: Array.from(form.mistake_tags.selectedOptions).map((o) => o.value),
      lesson_learned: form.lesson_learned.value, notes: form.notes.value, journal_status: form.journal_status.value,
    };
    const { ok, data } = await patch(`/api/v1/journal/${id}`, body);
    notice(ok ? "Saved." : errors(data), ok ? "ok" : "bad");
    if (ok) document.getElementById("status").textContent = data.journal_status;
  });

  document.getElementById("ai-review").addEventListener("click", async (event) => {
    event.target.disabled = true;
    document.getElementById("review").textContent = "Reviewing…";
    const { ok, data } = await post(`/api/v1/journal/${id}/ai-review`);
    event.target.disabled = false;
    document.getElementById("review").textContent = ok ? data.ai_review : `Review failed: ${errors(data)}`;
    if (ok) { document.getElementById("status").textContent = "REVIEWED"; form.journal_status.value = "REVIEWED"; }
  });
  loadTags();
})();
