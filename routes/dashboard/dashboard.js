// The broker's live dashboard: plain browser JavaScript, no build step.
const MAX_ROWS = 200;
const RENDER_EVERY_MS = 250;
const CHART_SECONDS = 60;
const RETRY_MS = 2_000;

const $ = (id) => document.getElementById(id);
const state = {
  token: localStorage.getItem("broker_token") ?? "",
  events: [],
  total: 0,
  drops: 0,
  gaps: 0,
  perSecond: new Array(CHART_SECONDS).fill(0),
  dirty: true,
  source: null,
  accessControl: false,
};

/** With access control on, nothing but /healthz answers without a token: ask for one rather than be refused. */
const needsToken = () => state.accessControl && !state.token;

/** fetch with the token, when there is one. */
function api(path, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  return fetch(path, { ...init, headers });
}

/**
 * The attribute filter typed in: JSON as it is (the broker names what is wrong with it), or
 * `name=value` pairs, each an exact match.
 */
function attributeFilter(text) {
  const typed = text.trim();
  if (!typed || typed.startsWith("{") || typed.startsWith("[")) return typed;
  const pairs = typed.split(/[\s,]+/).filter(Boolean).map((pair) => pair.split(/=(.*)/s, 2));
  return JSON.stringify({ exact: Object.fromEntries(pairs.map(([name, value]) => [name, value ?? ""])) });
}

function openStream() {
  state.source?.close();
  state.source = null;
  if (needsToken()) {
    setStatus("token", "token needed");
    return;
  }
  const query = new URLSearchParams();
  const filter = $("filter").value.replace(/\s+/g, "");
  if (filter) query.set("types", filter);
  const attributes = attributeFilter($("attributes").value);
  if (attributes) query.set("filter", attributes);
  if (state.token) query.set("access_token", state.token);
  const source = new EventSource(`/events/stream?${query}`);
  state.source = source;
  setStatus("connecting");
  source.onopen = () => setStatus("live");
  source.onerror = () => (source.readyState === EventSource.CLOSED ? explainRefusal(source) : setStatus("connecting"));
  source.onmessage = (message) => {
    state.events.unshift(JSON.parse(message.data));
    if (state.events.length > MAX_ROWS) state.events.length = MAX_ROWS;
    state.total++;
    state.perSecond[CHART_SECONDS - 1]++;
    state.dirty = true;
  };
  source.addEventListener("broker.dropped", (message) => {
    state.drops += JSON.parse(message.data).count;
    state.dirty = true;
  });
  source.addEventListener("broker.gap", (message) => {
    const { from, to } = JSON.parse(message.data);
    state.gaps += to - from + 1;
    state.dirty = true;
  });
}

/**
 * EventSource gives up, without saying why, when the answer is not a 200 stream (while the
 * server is unreachable it keeps trying): ask once more with fetch, which can read the problem.
 */
async function explainRefusal(source) {
  const response = await fetch(source.url).catch(() => null);
  if (state.source !== source) return response?.body?.cancel();
  if (!response || response.ok || response.status === 503) {
    // Gone, or a refusal that passes (a 503 while the server stops): try again, as EventSource would.
    response?.body?.cancel();
    setStatus(response ? "connecting" : "down");
    return setTimeout(() => state.source === source && openStream(), RETRY_MS);
  }
  const problem = await response.json().catch(() => ({}));
  const text = response.status === 401 ? "token refused" : response.status === 403 ? "not allowed" : "refused";
  setStatus("refused", text, [problem.detail, ...(problem.errors ?? []).map((error) => `${error.path} ${error.message}`)].join("\n"));
}

function setStatus(name, text = name, title = "") {
  $("status").textContent = text;
  $("status").dataset.state = name;
  $("status").title = title;
}

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

/** Redraws at most every RENDER_EVERY_MS, however fast events arrive. */
function render() {
  if (!state.dirty) return;
  state.dirty = false;
  $("events").tBodies[0].innerHTML = state.events.map((event) =>
    `<tr><td>${event.seq}</td><td>${escape(event.type)}</td><td>${escape(event.time.slice(11, 23))}</td><td class="data">${escape(JSON.stringify(event.data ?? null).slice(0, 200))}</td></tr>`
  ).join("");
  $("total").textContent = state.total;
  $("drops").textContent = state.drops;
  $("gaps").textContent = state.gaps;
  drawChart();
}

function drawChart() {
  const peak = Math.max(1, ...state.perSecond);
  const width = 600 / CHART_SECONDS;
  $("chart").innerHTML = state.perSecond.map((count, i) => {
    const height = (count / peak) * 78;
    return `<rect x="${i * width}" y="${80 - height}" width="${width - 1}" height="${height}"><title>${count}/s</title></rect>`;
  }).join("");
}

function tickSecond() {
  $("rate").textContent = state.perSecond[CHART_SECONDS - 1];
  state.perSecond.push(0);
  state.perSecond.shift();
  state.dirty = true;
}

async function refreshSubscriptions() {
  if (needsToken()) return;
  const response = await api("/subscriptions").catch(() => null);
  if (!response?.ok) return;
  const { subscriptions } = await response.json();
  $("subscriptions").tBodies[0].innerHTML = subscriptions.map((sub) => `
    <tr data-id="${escape(sub.id)}" data-paused="${sub.paused}">
      <td>${escape(sub.kind)}${sub.name ? ` <small>${escape(sub.name)}</small>` : ""}</td>
      <td>${escape(sub.types.join(", "))}</td><td>${sub.backlog}</td><td>${sub.delivered}</td><td>${sub.dropped}</td>
      <td class="actions"><button class="secondary" data-action="pause">${sub.paused ? "resume" : "pause"}</button>
          <button class="secondary" data-action="delete" title="delete" aria-label="delete">✕</button></td>
    </tr>`).join("");
}

async function onSubscriptionButton(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const row = button.closest("tr");
  const path = `/subscriptions/${encodeURIComponent(row.dataset.id)}`;
  if (button.dataset.action === "delete") await api(path, { method: "DELETE" });
  else await api(path, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ paused: row.dataset.paused !== "true" }) });
  await refreshSubscriptions();
}

async function publish(event) {
  event.preventDefault();
  let data;
  try {
    data = JSON.parse($("publish-data").value || "null");
  } catch {
    $("publish-result").textContent = "data is not JSON";
    return;
  }
  const response = await api("/events", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: $("publish-type").value, data }) });
  const answer = await response.json();
  $("publish-result").textContent = response.ok ? `accepted as seq ${answer.first}` : answer.detail;
}

async function start() {
  const health = await fetch("/healthz").then((response) => response.json()).catch(() => ({}));
  state.accessControl = Boolean(health.accessControl);
  $("token-field").hidden = !state.accessControl;
  $("token").value = state.token;
  $("token").addEventListener("change", () => {
    state.token = $("token").value.trim();
    localStorage.setItem("broker_token", state.token);
    openStream();
    refreshSubscriptions();
  });
  $("filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.events = [];
    state.dirty = true;
    openStream();
  });
  $("publish-form").addEventListener("submit", publish);
  $("subscriptions").addEventListener("click", onSubscriptionButton);
  openStream();
  refreshSubscriptions();
  setInterval(render, RENDER_EVERY_MS);
  setInterval(tickSecond, 1_000);
  setInterval(refreshSubscriptions, 2_000);
}

start();
