// The agent workspace: a live inbox (Server-Sent Events) ordered by breach risk, one open
// conversation with its transcript (the customer's photos, voice notes and files shown where they
// were sent, by signed URLs fetched each time the conversation loads), reply box, ticket actions,
// KB suggestions and context.
"use strict";

const TRANSITION_LABELS = {
  triaged: "Back to triage",
  assigned: "Assign",
  in_progress: "In progress",
  waiting_customer: "Waiting for customer",
  resolved: "Resolve",
  closed: "Close",
  cancelled: "Cancel",
};
const SPEAKERS = { customer: "Customer", bot: "Bot", system: "System" };
const state = { selected: null, item: null, etag: null, agents: [], files: [] };

function filters() {
  const params = new URLSearchParams();
  const pairs = {
    view: $("#f-view").value,
    priority: $("#f-priority").value,
    channel: $("#f-channel").value.trim(),
    skill_group: $("#f-skill").value.trim(),
    product_line: $("#f-line").value.trim(),
    lang: $("#f-lang").value,
    q: $("#f-q").value.trim(),
  };
  for (const [key, value] of Object.entries(pairs)) if (value) params.set(key, value);
  return params.toString();
}

function countdown(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const minutes = Math.round(Math.abs(seconds) / 60);
  const span = minutes >= 120 ? `${Math.round(minutes / 60)} h` : `${minutes} min`;
  return seconds < 0 ? `overdue ${span}` : `${span} left`;
}

function secondsLeft(item) {
  return item.due_at ? Math.round((new Date(item.due_at) - Date.now()) / 1000) : null;
}

function renderInbox(inbox) {
  const list = $("#inbox");
  list.replaceChildren();
  $("#inbox-count").textContent = `(${inbox.total})`;
  for (const item of inbox.items) {
    const row = el("li", null, "inbox-item");
    row.dataset.id = item.id;
    row.dataset.due = item.due_at || "";
    if (state.selected === item.id) row.classList.add("selected");
    const left = secondsLeft(item);
    if (left !== null && left < 0) row.classList.add("breached");
    const top = el("div", null, "line1");
    top.append(el("span", item.priority, `badge ${item.priority}`), el("span", item.id, "id"));
    if (item.unread) top.append(el("span", item.unread, "unread"));
    top.append(el("span", countdown(left), "sla"));
    const subject = el("div", item.subject, "subject");
    const meta = el("div", [item.customer, item.channel, item.assignee_name || item.assignee || "unassigned"]
      .filter(Boolean).join(" · "), "meta");
    row.append(top, subject, meta);
    row.addEventListener("click", () => openItem(item.id));
    list.append(row);
  }
}

function tick() {
  for (const row of document.querySelectorAll("#inbox li")) {
    if (!row.dataset.due) continue;
    const left = Math.round((new Date(row.dataset.due) - Date.now()) / 1000);
    row.querySelector(".sla").textContent = countdown(left);
    row.classList.toggle("breached", left < 0);
  }
}

function ticketLink(id) {
  const link = el("a", id);
  link.href = `#${id}`;
  link.addEventListener("click", (event) => {
    event.preventDefault();
    openItem(id);
  });
  return link;
}

function renderIncident(incident) {
  const row = el("li", null, "incident");
  row.dataset.id = String(incident.id);
  const top = el("div", null, "line1");
  top.append(el("span", incident.code, "badge"), el("span", `${incident.units} units`, "units"),
    el("span", `opened ${when(incident.opened_at)}`, "sla"));
  const children = el("div", null, "children");
  children.append(...incident.ticket_ids.map(ticketLink));
  row.append(top, children);
  return row;
}

function renderUnmatched(alarm) {
  const row = el("li", null, "unmatched");
  row.dataset.id = alarm.id;
  const top = el("div", null, "line1");
  top.append(el("span", alarm.serial, "serial"), el("span", alarm.code, "badge"), el("span", `×${alarm.count}`, "count"));
  row.append(top, el("div", `last seen ${when(alarm.last_seen_at)}`, "meta"));
  return row;
}

function fill(list, rows, emptyText) {
  list.replaceChildren(...rows);
  if (!rows.length) list.append(el("li", emptyText, "empty-note"));
}

// Alarms of units not in the registry and open fleet incidents: no ticket event announces an
// unmatched alarm, so the panel is also read every EQUIPMENT_EVERY_MS.
function renderEquipment(panel) {
  $("#incident-count").textContent = `(${panel.incidents.length})`;
  $("#unmatched-count").textContent = `(${panel.unmatched_total})`;
  fill($("#incidents"), panel.incidents.map(renderIncident), "No open fleet incident.");
  fill($("#unmatched"), panel.unmatched.map(renderUnmatched), "No alarm from an unknown unit.");
}

const EQUIPMENT_EVERY_MS = 30_000;
let inboxAsked = 0; // answers to earlier requests (older filters) arriving late are dropped
let equipmentAsked = 0;

async function refreshEquipment() {
  const asked = ++equipmentAsked;
  const panel = await call("GET", "/v1/agent/equipment");
  if (asked === equipmentAsked) renderEquipment(panel);
}

async function refreshInbox() {
  const asked = ++inboxAsked;
  try {
    const [inbox] = await Promise.all([call("GET", `/v1/agent/inbox?${filters()}`), refreshEquipment()]);
    if (asked === inboxAsked) renderInbox(inbox);
  } catch (error) {
    say(error.message, true);
  }
}

function speakerLabel(line) {
  return line.speaker === "agent" ? line.author || "Agent" : SPEAKERS[line.speaker];
}

function opener(url, child) {
  const link = el("a", null, "attachment");
  link.href = url;
  link.rel = "noopener noreferrer";
  link.target = "_blank";
  link.append(child);
  return link;
}

// A stored file as the agent sees it: a thumbnail (opens full size) with the text read off it,
// an audio player, or a download link.
function renderFile(file) {
  const box = el("figure", null, `file ${file.kind}`);
  box.dataset.fileId = file.id;
  const name = file.name || file.kind;
  if (file.kind === "image") {
    const image = el("img", null, "thumb");
    image.src = file.url;
    image.alt = name;
    image.loading = "lazy";
    box.append(opener(file.url, image));
  } else if (file.kind === "voice") {
    const audio = el("audio");
    audio.controls = true;
    audio.preload = "none";
    audio.src = file.url;
    box.append(audio);
  } else {
    const link = opener(file.url, document.createTextNode(name));
    link.download = name;
    box.append(link);
  }
  if (file.text) box.append(el("figcaption", file.text, "ocr"));
  return box;
}

function renderAttachment(attachment, files) {
  const stored = attachment.file_id ? files.get(attachment.file_id) : null;
  if (stored) return renderFile(stored);
  if (attachment.url) return opener(attachment.url, document.createTextNode(attachment.name));
  return el("span", `[${attachment.type}: ${attachment.name}]`, "attachment");
}

function renderTranscript(said) {
  const list = $("#transcript");
  list.replaceChildren();
  const files = new Map(state.files.map((file) => [file.id, file]));
  const shown = new Set();
  for (const line of said.lines) {
    const row = el("li", null, `line ${line.speaker}`);
    row.append(el("span", speakerLabel(line), "who"), el("span", line.text, "text"));
    for (const attachment of line.attachments) {
      row.append(renderAttachment(attachment, files));
      shown.add(attachment.file_id);
    }
    row.append(el("time", when(line.at)));
    list.append(row);
  }
  // files no transcript line points at (e.g. a message the bot did not answer) still show
  const rest = state.files.filter((file) => !shown.has(file.id));
  $("#files-box").hidden = !rest.length;
  $("#files").replaceChildren(...rest.map(renderFile));
  const notes = $("#notes");
  notes.replaceChildren();
  for (const note of said.notes) {
    const row = el("li", null, "note");
    row.append(el("span", note.author, "who"), el("span", note.text, "text"), el("time", when(note.at)));
    notes.append(row);
  }
}

function renderActions(ticket) {
  const box = $("#actions");
  box.replaceChildren();
  if (!ticket) return;
  for (const status of ticket.allowed_transitions) {
    const reopen = ticket.status === "resolved" && status === "in_progress";
    const label = reopen ? "Reopen" : TRANSITION_LABELS[status] || status;
    const button = el("button", label);
    button.type = "button";
    button.dataset.status = status;
    button.addEventListener("click", () => move(ticket, status));
    box.append(button);
  }
}

function renderContext(context) {
  $("#context").hidden = false;
  definitions($("#ctx-customer"), [
    ["Name", context.customer_name],
    ["Phone", context.customer_phone],
    ["Tier", context.customer_tier],
  ]);
  const unit = context.equipment;
  definitions($("#ctx-equipment"), [
    ["Product", unit.product_name ? `${unit.product_name} (${unit.product_id})` : unit.product_id],
    ["Serial", unit.serial],
    ["Site", unit.site],
    ["Fault", unit.fault_id],
  ]);
  const repeat = $("#repeat");
  repeat.hidden = !context.repeat_fault;
  repeat.textContent = context.repeat_fault ? `Repeat fault within 30 days: ${context.repeat_of.join(", ")}` : "";
  definitions($("#ctx-sla"), [
    ["Response due", when(context.response_due_at)],
    ["Resolution due", when(context.resolution_due_at)],
  ]);
  const earlier = $("#ctx-earlier");
  earlier.replaceChildren();
  for (const past of context.earlier_tickets) {
    earlier.append(el("li", `${past.id} · ${past.status} · ${past.subject} (${when(past.created_at)})`));
  }
}

function renderItem(item) {
  const ticket = item.ticket;
  const conversation = item.conversation;
  $("#empty").hidden = true;
  $("#item").hidden = false;
  $("#item-title").textContent = ticket ? `${ticket.id} · ${ticket.subject}` : `Conversation ${conversation.id}`;
  $("#item-meta").textContent = [
    ticket ? `status ${ticket.status}` : `conversation ${conversation.status}`,
    ticket ? ticket.priority : null,
    ticket ? `assignee ${ticket.assignee || "none"}` : null,
    conversation ? `${conversation.channel} · ${conversation.lang}` : null,
  ].filter(Boolean).join(" · ");
  $("#summary-box").hidden = !item.summary;
  $("#summary").textContent = item.summary || "";
  renderTranscript(item.transcript);
  renderActions(ticket);
  for (const id of ["#take", "#reassign", "#reassign-to", "#priority-to", "#set-priority"]) {
    $(id).disabled = !ticket || !["new", "triaged", "assigned", "in_progress", "waiting_customer"].includes(ticket.status);
  }
  if (ticket) $("#priority-to").value = ticket.priority;
  $("#handback").disabled = !conversation || conversation.status !== "handoff";
  $("#reply-text").disabled = !conversation;
  $("#send").disabled = false;
  renderContext(item.context);
}

let itemAsked = 0;
const URL_MARGIN_MS = 60_000;

// The conversation's files with signed URLs, asked for on every load (the URLs expire); a
// file's URL still valid for a while is kept, so its thumbnail is not fetched again.
async function loadFiles(conversation) {
  if (!conversation) return [];
  const files = await call("GET", `/v1/conversations/${encodeURIComponent(conversation.id)}/files`);
  const before = new Map(state.files.map((file) => [file.id, file]));
  return files.map((file) => {
    const kept = before.get(file.id);
    const fresh = kept && new Date(kept.url_expires_at) - Date.now() > URL_MARGIN_MS;
    return fresh ? { ...file, url: kept.url, url_expires_at: kept.url_expires_at } : file;
  });
}

async function loadItem() {
  if (!state.selected) return;
  const asked = ++itemAsked;
  const item = await call("GET", `/v1/agent/items/${encodeURIComponent(state.selected)}`);
  // the ticket's ETag, sent back as If-Match: a change made meanwhile is refused (412)
  const [etag, files] = await Promise.all([
    item.ticket ? api("GET", `/v1/tickets/${item.ticket.id}`).then((got) => got.response.headers.get("ETag")) : null,
    loadFiles(item.conversation),
  ]);
  if (asked !== itemAsked) return;
  state.item = item;
  state.etag = etag;
  state.files = files;
  renderItem(item);
}

async function loadSuggestions() {
  const list = $("#suggestions");
  list.replaceChildren();
  const found = await call("GET", `/v1/agent/items/${encodeURIComponent(state.selected)}/suggestions`);
  for (const hit of found) {
    const row = el("li", null, "suggestion");
    const use = el("button", "Use");
    use.type = "button";
    use.addEventListener("click", () => {
      $("#reply-text").value = hit.text;
      document.querySelector("input[name=mode][value=reply]").checked = true;
      $("#reply-text").focus();
    });
    row.append(el("strong", hit.title), use, el("p", hit.text, "answer"));
    list.append(row);
  }
  if (!found.length) list.append(el("li", "No knowledge base answer fits this message."));
}

async function loadCanned(lang) {
  const select = $("#canned");
  select.replaceChildren(el("option", "Canned replies…"));
  select.firstChild.value = "";
  for (const reply of await call("GET", `/v1/agent/canned?lang=${lang === "en" ? "en" : "zh"}`)) {
    const option = el("option", reply.title);
    option.value = reply.text;
    select.append(option);
  }
}

async function openItem(id) {
  state.selected = id;
  $("#changed").hidden = true;
  for (const row of document.querySelectorAll("#inbox li")) row.classList.toggle("selected", row.dataset.id === id);
  try {
    await loadItem();
    const lang = state.item.conversation ? state.item.conversation.lang : (state.item.ticket || {}).lang;
    await Promise.all([loadSuggestions(), loadCanned(lang)]);
  } catch (error) {
    say(error.message, true);
  }
}

async function act(work, done) {
  let stale = false;
  try {
    await work();
    if (done) say(done);
  } catch (error) {
    if (error.status === 412) stale = true;
    else say(error.message, true);
  }
  await loadItem().catch((error) => say(error.message, true));
  // said only once the fresh copy (and its ETag) is on the page, so "try again" can work at once
  if (stale) {
    $("#changed").hidden = false;
    $("#changed").textContent = "This ticket changed since you opened it: it has been reloaded, check it and try again.";
  }
  await refreshInbox();
}

function move(ticket, status) {
  const body = { status };
  if (status === "assigned" && !ticket.assignee) body.assignee = session.me.actor;
  const headers = state.etag ? { "If-Match": state.etag } : {};
  return act(() => call("PATCH", `/v1/tickets/${ticket.id}`, body, headers), `${ticket.id}: ${status}`);
}

async function send(event) {
  event.preventDefault();
  const text = $("#reply-text").value.trim();
  if (!text) return;
  const note = document.querySelector("input[name=mode]:checked").value === "note";
  const item = state.item;
  const path = note
    ? `/v1/agent/items/${encodeURIComponent(state.selected)}/notes`
    : `/v1/agent/conversations/${item.conversation.id}/reply`;
  await act(async () => {
    const result = await call("POST", path, { text });
    $("#reply-text").value = "";
    if (!note && result.delivered === false) throw new Error(`not delivered: ${result.error}`);
  }, note ? "Internal note added" : "Reply sent");
}

async function loadAgents() {
  state.agents = (await call("GET", "/v1/agent/accounts?limit=500")).items;
  const select = $("#reassign-to");
  select.replaceChildren();
  for (const agent of state.agents) {
    const option = el("option", `${agent.display_name} (${agent.username})`);
    option.value = `agent:${agent.username}`;
    select.append(option);
  }
}

function wire() {
  $("#filters").addEventListener("input", refreshInbox);
  $("#filters").addEventListener("submit", (event) => event.preventDefault());
  $("#reply-form").addEventListener("submit", send);
  $("#canned").addEventListener("change", (event) => {
    if (event.target.value) $("#reply-text").value = event.target.value;
    event.target.value = "";
  });
  $("#take").addEventListener("click", () => act(
    () => call("POST", `/v1/agent/tickets/${state.item.ticket.id}/assign`, { assignee: session.me.actor }),
    "Assigned to you"));
  $("#reassign").addEventListener("click", () => act(
    () => call("POST", `/v1/agent/tickets/${state.item.ticket.id}/assign`, { assignee: $("#reassign-to").value }),
    "Reassigned"));
  $("#set-priority").addEventListener("click", () => act(
    () => call("POST", `/v1/agent/tickets/${state.item.ticket.id}/priority`, { priority: $("#priority-to").value }),
    "Priority changed"));
  $("#handback").addEventListener("click", () => act(
    () => call("POST", `/v1/agent/conversations/${state.item.conversation.id}/handback`),
    "Handed back to the bot; the customer was told"));
}

function live() {
  const source = new EventSource("/v1/agent/stream");
  source.addEventListener("change", () => {
    refreshInbox();
    if (state.selected) loadItem().catch((error) => say(error.message, true));
  });
  source.addEventListener("open", () => say("Live"));
  source.addEventListener("error", () => say("Reconnecting…", true));
}

signedIn(async () => {
  $("#workspace").hidden = false;
  wire();
  await Promise.all([refreshInbox(), loadAgents()]);
  live();
  setInterval(tick, 1000);
  setInterval(() => refreshEquipment().catch((error) => say(error.message, true)), EQUIPMENT_EVERY_MS);
});
