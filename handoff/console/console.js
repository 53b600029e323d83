// Agent console. Every text that comes from shoppers or tickets is put into the page with
// textContent (never innerHTML), so HTML or script in a message is shown, not run.
"use strict";

const state = { token: sessionStorage.getItem("kdbot-token"), ticket: null, me: null, ws: null };
const $ = (id) => document.getElementById(id);
const REASONS = {
  request_human: "Wunsch nach Person", complaint: "Reklamation", damaged_goods: "Beschädigte Ware",
  wrong_goods: "Falsche/fehlende Ware", payment_issue: "Zahlung", cancel_order: "Stornierung",
  change_address: "Adressänderung", fallback: "Nicht verstanden", verification_locked: "Verifizierung gesperrt",
  legal_threat: "Rechtliche Drohung", goodwill_return: "Kulanz-Rückgabe",
};

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401) { logout(); throw new Error("Anmeldung abgelaufen"); }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = data.detail;
    throw new Error(typeof detail === "string" ? detail : (detail && detail.message) || `Fehler ${response.status}`);
  }
  return data;
}

function minutesSince(iso) { return Math.floor((Date.now() - Date.parse(iso)) / 60000); }
function timeOf(iso) { return new Date(iso).toLocaleTimeString("de-DE", { hour: "2-digit", minute: "2-digit" }); }

async function login(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const form = new URLSearchParams({ username: $("username").value, password: $("password").value });
  const response = await fetch("/api/auth/token", { method: "POST", body: form });
  if (!response.ok) { $("login-error").textContent = "Benutzername oder Passwort falsch."; return; }
  state.token = (await response.json()).access_token;
  sessionStorage.setItem("kdbot-token", state.token);
  await start();
}

function logout() {
  sessionStorage.removeItem("kdbot-token");
  state.token = null;
  if (state.ws) state.ws.close();
  $("app").hidden = true;
  $("login").hidden = false;
}

async function start() {
  state.me = await api("GET", "/api/me");
  $("me").textContent = `${state.me.name} (${state.me.languages.join(", ")})`;
  $("login").hidden = true;
  $("app").hidden = false;
  connect();
  await refreshLists();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/ws?token=${encodeURIComponent(state.token)}`);
  state.ws = ws;
  ws.onopen = () => { $("live").textContent = "live"; };
  ws.onclose = () => {
    $("live").textContent = "offline";
    if (state.token && state.ws === ws) setTimeout(connect, 2000);
  };
  ws.onmessage = (message) => onEvent(JSON.parse(message.data));
}

async function onEvent(event) {
  if (event.type && event.type.startsWith("ticket.")) await refreshLists();
  if (!state.ticket || String(event.ticket_id) !== String(state.ticket.id)) return;
  if (event.type === "message") appendLine(event.message);
  else if (event.type === "message.delivery") markDelivery(event.message_id, event.delivery);
  else await openTicket(state.ticket.id);
}

async function refreshLists() {
  const [queue, mine] = await Promise.all([api("GET", "/api/queue"), api("GET", "/api/tickets")]);
  const body = $("queue").querySelector("tbody");
  body.replaceChildren();
  for (const ticket of queue) {
    const row = el("tr", null, `ticket-row prio-${ticket.priority}`);
    row.dataset.id = ticket.id;
    const left = Math.floor((Date.parse(ticket.due_at) - Date.now()) / 60000);
    row.append(el("td", ticket.id), el("td", ticket.language), el("td", ticket.channel),
      el("td", REASONS[ticket.reason] || ticket.reason), el("td", `${minutesSince(ticket.created_at)} min`),
      el("td", left < 0 ? `${-left} min überfällig` : `noch ${left} min`, left < 0 ? "overdue" : ""));
    row.addEventListener("click", () => openTicket(ticket.id));
    body.append(row);
  }
  $("queue-count").textContent = `(${queue.length})`;
  const list = $("mine");
  list.replaceChildren();
  for (const ticket of mine) {
    const item = el("li", `#${ticket.id} · ${REASONS[ticket.reason] || ticket.reason} · ${ticket.channel}`);
    item.dataset.id = ticket.id;
    item.addEventListener("click", () => openTicket(ticket.id));
    list.append(item);
  }
}

function appendLine(entry) {
  if (document.querySelector(`#transcript li[data-id="${CSS.escape(entry.id || "")}"]`)) return;
  const who = entry.from === "agent" ? (entry.agent && entry.agent.name) || "Agent"
    : entry.from === "bot" ? "Bot" : "Kundin/Kunde";
  const item = el("li", null, entry.from);
  item.dataset.id = entry.id || "";
  const meta = el("span", `${who} · ${timeOf(entry.at)}`, "meta");
  if (entry.from === "agent") {
    meta.append(el("span", ` · ${deliveryText(entry.delivery || "pending")}`, "delivery"));
  }
  item.append(meta, el("span", entry.text, "text"));
  $("transcript").append(item);
  $("transcript").scrollTop = $("transcript").scrollHeight;
}

function deliveryText(state) {
  return { delivered: "zugestellt", retrying: "wird erneut versucht", pending: "wird gesendet" }[state] || state;
}

function markDelivery(messageId, delivery) {
  const item = document.querySelector(`#transcript li[data-id="${CSS.escape(messageId)}"] .delivery`);
  if (item) item.textContent = ` · ${deliveryText(delivery)}`;
}

function contextRow(list, label, value, className) {
  if (value === undefined || value === null || value === "") return;
  list.append(el("dt", label), el("dd", value, className));
}

async function openTicket(id) {
  const ticket = await api("GET", `/api/tickets/${encodeURIComponent(id)}`);
  state.ticket = ticket;
  $("ticket").hidden = false;
  $("t-id").textContent = `#${ticket.id}`;
  $("t-status").textContent = { queued: "wartet", assigned: `bei ${ticket.assigned_to}`, resolved: "abgeschlossen" }[ticket.status];
  const mine = ticket.status === "assigned" && ticket.assigned_to === state.me.username;
  $("claim").hidden = ticket.status !== "queued";
  $("release").hidden = !mine;
  $("resolve").hidden = !mine;
  $("reply-form").hidden = !mine;
  $("t-error").textContent = "";
  $("transcript").replaceChildren();
  ticket.transcript.forEach(appendLine);
  const context = ticket.context || {};
  const order = context.order || {};
  const flags = context.flags || {};
  const list = $("context");
  list.replaceChildren();
  contextRow(list, "Grund", REASONS[ticket.reason] || ticket.reason);
  contextRow(list, "Kanal / Sprache", `${ticket.channel} / ${ticket.language}`);
  contextRow(list, "Fällig (SLA)", new Date(ticket.due_at).toLocaleString("de-DE"));
  if (flags.legal_threat) contextRow(list, "Achtung", "Rechtliche Drohung", "flag");
  if (flags.high_order_value) contextRow(list, "Achtung", "Hoher Bestellwert", "flag");
  contextRow(list, "Verifizierung", context.verification || "nicht verifiziert");
  contextRow(list, "Bestellung", order.order_id || context.order_id);
  contextRow(list, "Status", order.status);
  contextRow(list, "Versand", order.carrier && `${order.carrier} ${order.tracking_number || ""}`);
  contextRow(list, "Summe", order.total !== undefined && order.total !== null ? `${order.total} ${order.currency || ""}` : null);
  contextRow(list, "Artikel", (order.items || []).map((i) => `${i.quantity || 1}× ${i.name}`).join(", "));
  contextRow(list, "Themen", (context.intents || []).join(", "));
  contextRow(list, "E-Mail für Antwort", ticket.contact_email);
  contextRow(list, "Bewertung", ticket.csat);
  const select = $("templates");
  select.replaceChildren(el("option", "Vorlage wählen ..."));
  select.firstChild.value = "";
  if (mine) {
    for (const template of await api("GET", `/api/tickets/${encodeURIComponent(id)}/templates`)) {
      const option = el("option", template.title);
      option.value = template.text;
      select.append(option);
    }
  }
}

async function act(path) {
  $("t-error").textContent = "";
  try {
    await api("POST", path);
    await openTicket(state.ticket.id);
    await refreshLists();
  } catch (error) {
    $("t-error").textContent = error.message;
  }
}

async function send(event) {
  event.preventDefault();
  const text = $("reply").value.trim();
  if (!text) return;
  $("t-error").textContent = "";
  try {
    const entry = await api("POST", `/api/tickets/${encodeURIComponent(state.ticket.id)}/messages`, { text });
    $("reply").value = "";
    appendLine(entry);
    markDelivery(entry.id, entry.delivery);
  } catch (error) {
    $("t-error").textContent = error.message;
  }
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
$("claim").addEventListener("click", () => act(`/api/tickets/${encodeURIComponent(state.ticket.id)}/claim`));
$("release").addEventListener("click", () => act(`/api/tickets/${encodeURIComponent(state.ticket.id)}/release`));
$("resolve").addEventListener("click", () => act(`/api/tickets/${encodeURIComponent(state.ticket.id)}/resolve`));
$("reply-form").addEventListener("submit", send);
$("templates").addEventListener("change", (event) => { if (event.target.value) $("reply").value = event.target.value; });
$("claim-next").addEventListener("click", async () => {
  try {
    const ticket = await api("POST", "/api/queue/claim-next");
    if (ticket) await openTicket(ticket.id);
    await refreshLists();
  } catch (error) { $("t-error").textContent = error.message; }
});
setInterval(() => { if (state.token) refreshLists().catch(() => {}); }, 30000);
if (state.token) start().catch(logout);
