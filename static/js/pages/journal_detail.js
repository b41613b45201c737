(function () {
  "use strict";
  const { get, post, patch, el, errors } = AL;
  const form = document.getElementById("edit");
  const id = form.dataset.id;
  const read = (name) => JSON.parse(document.getElementById(name).textContent);

  function notice(text, cls) { document.getElementById("edit-result").replaceChildren(el("div", { class: "notice " + cls }, text)); }

  async function loadTags() {
    const { ok, data: tags } = await AL.all("/api/v1/journal/tags");
    if (!ok) return;
    const emotion = read("current-emotion"), mistakes = read("current-mistakes") || [];
    document.getElementById("emotion").append(...tags.filter((t) => t.kind === "emotion").map((t) => el("option", t.name === emotion ? { value: t.name, selected: "" } : { value: t.name }, t.name)));
    document.getElementById("mistakes").append(...tags.filter((t) => t.kind === "mistake").map((t) => el("option", mistakes.includes(t.name) ? { value: t.name, selected: "" } : { value: t.name }, t.name)));
    form.journal_status.value = read("current-status");
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
