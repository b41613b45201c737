// Shared page helpers: the JSON API with a short-lived JWT obtained from the login session,
// formatting, and small DOM builders. Pages call AL.get/post/patch/del.
(function () {
  "use strict";

  let token = null;

  function csrf() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function fetchToken() {
    const response = await fetch("/session-token", { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf() } });
    if (!response.ok) { location.href = "/accounts/login/?next=" + encodeURIComponent(location.pathname); throw new Error("login required"); }
    token = (await response.json()).access;
    return token;
  }

  async function request(method, path, body, retried) {
    let response;
    try {
      const headers = { Authorization: "Bearer " + (token || (await fetchToken())) };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {  // the network failed: an answer like any other failure, so pages can say so
      return { ok: false, status: 0, data: { detail: "The server could not be reached." } };
    }
    if (response.status === 401 && !retried) { token = null; return request(method, path, body, true); }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (err) { data = { detail: text }; }
    return { ok: response.ok, status: response.status, data };
  }

  // Every list answers one page {count, next, previous, results}; this follows `next` to the end and
  // answers { ok, status, data: every row } (or the failing page's answer).
  async function all(path) {
    const rows = [];
    for (let next = path; next;) {
      const answer = await request("GET", next);
      if (!answer.ok) return answer;
      rows.push(...answer.data.results);
      next = answer.data.next;
    }
    return { ok: true, status: 200, data: rows };
  }

  function money(value) {
    if (value === null || value === undefined || value === "") return "–";
    const n = Number(value);
    return n.toLocaleString(undefined, { style: "currency", currency: "USD" });
  }

  function pct(value, digits = 2) {
    if (value === null || value === undefined) return "–";
    return Number(value).toFixed(digits) + "%";
  }

  function ratio(value, digits = 1) {
    if (value === null || value === undefined) return "–";
    return (Number(value) * 100).toFixed(digits) + "%";
  }

  function signClass(value) {
    const n = Number(value);
    return n > 0 ? "up" : n < 0 ? "down" : "";
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== null && value !== undefined) node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function table(target, columns, rows, empty = "Nothing yet.") {
    const host = typeof target === "string" ? document.getElementById(target) : target;
    host.replaceChildren();
    if (!rows.length) { host.appendChild(el("p", { class: "muted" }, empty)); return; }
    // A column with `phone: false` is left out at phone width (CSS .wide-only), so the key columns fit.
    const wide = (c) => (c.phone === false ? "wide-only" : "");
    const head = el("tr", {}, columns.map((c) => el("th", { class: wide(c) }, c.label)));
    const body = rows.map((row) => el("tr", {}, columns.map((c) => {
      const value = c.value(row);
      const cls = [c.cls ? c.cls(row) : "", wide(c)].filter(Boolean).join(" ");
      return el("td", { class: cls }, value instanceof Node ? value : (value ?? "–"));
    })));
    host.appendChild(el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, head), el("tbody", {}, body))));
  }

  function errors(data) {
    if (!data) return "Request failed.";
    if (data.detail) return data.detail + (data.code ? ` (${data.code})` : "");
    return Object.entries(data).map(([field, msgs]) => `${field}: ${[].concat(msgs).join(" ")}`).join("; ");
  }

  function formData(form) {
    const data = {};
    for (const [key, value] of new FormData(form).entries()) {
      if (key === "csrfmiddlewaretoken") continue;
      if (value !== "") data[key] = value;
    }
    return data;
  }

  function lineChart(container, options = {}) {
    const chart = LightweightCharts.createChart(container, {
      height: options.height || 260,
      layout: { background: { color: "transparent" }, textColor: "#8b98a5" },
      grid: { vertLines: { color: "#1f2730" }, horzLines: { color: "#1f2730" } },
      rightPriceScale: { borderColor: "#27303a" },
      timeScale: { borderColor: "#27303a" },
      autoSize: true,
    });
    return chart;
  }

  // The running compounded return (in %) of a series of daily returns (fractions), one point per snapshot:
  // every line of a window starts from the same base and ends at the window's total return.
  function compounded(snapshots, field) {
    let growth = 1;
    return snapshots.map((s) => { growth *= 1 + Number(s[field] || 0); return { time: s.date, value: (growth - 1) * 100 }; });
  }

  // A panel whose data failed: what failed and why, and a Retry button, never a blank box.
  function failed(host, what, answer, retry) {
    const why = answer.status ? `the server answered ${answer.status}` : "the server could not be reached";
    host.replaceChildren(el("div", { class: "notice bad load-failed", role: "alert" }, `Could not load ${what}: ${why}. `,
      el("button", { type: "button", class: "small retry", onclick: retry }, "Retry")));
  }

  // The navbar's Menu button (phone width): shows and hides the links.
  const menuToggle = document.getElementById("menu-toggle");
  if (menuToggle) {
    menuToggle.addEventListener("click", () => {
      const open = menuToggle.closest(".topbar").classList.toggle("open");
      menuToggle.setAttribute("aria-expanded", String(open));
    });
  }

  window.AL = {
    get: (p) => request("GET", p), all, post: (p, b = {}) => request("POST", p, b), patch: (p, b) => request("PATCH", p, b),
    put: (p, b) => request("PUT", p, b), del: (p) => request("DELETE", p),
    money, pct, ratio, signClass, el, table, errors, formData, lineChart, failed, compounded,
  };
})();
