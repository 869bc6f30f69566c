// Agent console: the queue (polled), claims, a conversation's history, reply, hand-back, resolve.
// Customer text is only ever set with textContent; the key stays in this tab's sessionStorage.
"use strict";

const KEY_ITEM = "aftersales.agentKey";
const POLL_MS = 5000;
const $ = (selector) => document.querySelector(selector);
let selected = null; // the queue item shown in the detail pane

function apiKey() {
  return sessionStorage.getItem(KEY_ITEM) || "";
}

function say(text, isError) {
  const status = $("#status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${apiKey()}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.message || `${method} ${path}: HTTP ${response.status}`);
  }
  return data;
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function flag(parent, text, className) {
  const span = document.createElement("span");
  span.className = `flag ${className || ""}`;
  span.textContent = text;
  parent.appendChild(span);
}

function button(parent, text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", onClick);
  parent.appendChild(b);
  return b;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function renderQueue(queue) {
  const body = $("#queue tbody");
  body.replaceChildren();
  $("#queue-count").textContent = `(${queue.total})`;
  for (const item of queue.items) {
    const row = document.createElement("tr");
    row.dataset.id = item.id;
    if (selected && selected.id === item.id) row.className = "selected";
    cell(row, item.priority, item.priority);
    cell(row, item.id);
    cell(row, item.subject);
    cell(row, item.status);
    cell(row, item.channel || "");
    cell(row, when(item.due_at));
    const flags = cell(row, "");
    if (item.response_breached) flag(flags, "response SLA", "breach");
    if (item.resolution_breached) flag(flags, "resolution SLA", "breach");
    if (item.escalated) flag(flags, "escalated", "escalated");
    if (item.handoff) flag(flags, "handoff");
    cell(row, item.claimed_by || "", "claimed-by");
    const actions = cell(row, "");
    if (!item.claimed_by) button(actions, "Claim", () => claim(item));
    button(actions, "Open", () => show(item));
    body.appendChild(row);
  }
}

async function refresh() {
  if (!apiKey()) {
    say("Paste an API key with the scope agents.");
    return;
  }
  try {
    const queue = await api("GET", "/v1/agent/queue");
    renderQueue(queue);
    if (selected) {
      const again = queue.items.find((item) => item.id === selected.id);
      if (again) selected = again;
    }
    $("#updated").textContent = `Queue updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    say(error.message, true);
  }
}

async function claim(item) {
  try {
    const claimed = await api("POST", `/v1/agent/queue/${encodeURIComponent(item.id)}/claim`);
    say(`${claimed.id} claimed by ${claimed.claimed_by}`);
    await refresh();
  } catch (error) {
    say(error.message, true);
  }
}

function renderHistory(conversation) {
  const list = $("#history");
  list.replaceChildren();
  for (const line of conversation.messages) {
    const li = document.createElement("li");
    li.className = line.direction === "in" ? "in" : `out ${line.action === "agent" ? "agent" : ""}`;
    const meta = document.createElement("small");
    const agent = line.author ? `agent ${line.author}` : "agent";
    const who = line.direction === "in" ? "customer" : line.action === "agent" ? agent : "bot";
    meta.textContent = `${who} · ${when(line.at)}`;
    li.appendChild(meta);
    li.appendChild(document.createTextNode(line.text));
    list.appendChild(li);
  }
  list.scrollTop = list.scrollHeight;
}

async function show(item) {
  selected = item;
  $("#detail").hidden = false;
  $("#detail-title").textContent = item.id;
  $("#detail-meta").textContent = `${item.priority} · ${item.status} · ${item.subject}`;
  $("#reply-form").hidden = !item.conversation_id;
  $("#resolve-form").hidden = item.kind !== "ticket";
  $("#history").replaceChildren();
  for (const row of document.querySelectorAll("#queue tbody tr")) {
    row.className = row.dataset.id === item.id ? "selected" : "";
  }
  if (item.conversation_id) await loadConversation(item.conversation_id);
}

async function loadConversation(conversationId) {
  try {
    renderHistory(await api("GET", `/v1/agent/conversations/${encodeURIComponent(conversationId)}`));
  } catch (error) {
    say(error.message, true);
  }
}

async function reply(event) {
  event.preventDefault();
  if (!selected || !selected.conversation_id) return;
  const text = $("#reply-text").value.trim();
  if (!text) return;
  try {
    const path = `/v1/agent/conversations/${encodeURIComponent(selected.conversation_id)}/reply`;
    const result = await api("POST", path, { text });
    $("#reply-text").value = "";
    say(result.delivered ? "Reply sent." : `Reply kept, not delivered: ${result.error}`, !result.delivered);
    await loadConversation(selected.conversation_id);
  } catch (error) {
    say(error.message, true);
  }
}

async function handback() {
  if (!selected || !selected.conversation_id) return;
  try {
    await api("POST", `/v1/agent/conversations/${encodeURIComponent(selected.conversation_id)}/handback`);
    say("Conversation handed back to the bot.");
    await refresh();
  } catch (error) {
    say(error.message, true);
  }
}

async function resolve(event) {
  event.preventDefault();
  if (!selected || selected.kind !== "ticket") return;
  try {
    const path = `/v1/agent/tickets/${encodeURIComponent(selected.id)}/resolve`;
    const result = await api("POST", path, { note: $("#resolve-note").value.trim() });
    $("#resolve-note").value = "";
    say(`${result.id} resolved; the customer gets the satisfaction survey.`);
    selected = null;
    $("#detail").hidden = true;
    await refresh();
  } catch (error) {
    say(error.message, true);
  }
}

$("#key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_ITEM, $("#api-key").value.trim());
  $("#api-key").value = "";
  refresh();
});
$("#forget-key").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_ITEM);
  $("#queue tbody").replaceChildren();
  say("Key forgotten.");
});
$("#reply-form").addEventListener("submit", reply);
$("#handback").addEventListener("click", handback);
$("#resolve-form").addEventListener("submit", resolve);
refresh();
setInterval(refresh, POLL_MS);
