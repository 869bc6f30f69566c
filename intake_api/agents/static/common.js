// Shared by the workspace and the dashboard: the signed-in agent, and calls to the service
// with the session cookie and the CSRF token. Text from the service is only set as textContent.
"use strict";

const session = { me: null, csrf: null };
const $ = (selector) => document.querySelector(selector);

function say(text, isError) {
  const status = $("#status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body, headers) {
  const sent = { "Content-Type": "application/json", ...(headers || {}) };
  if (method !== "GET" && session.csrf) sent["X-CSRF-Token"] = session.csrf;
  const response = await fetch(path, {
    method,
    headers: sent,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return { data: null, response };
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new HttpError(response.status, data.message || `${method} ${path}: HTTP ${response.status}`);
  }
  return { data, response };
}

async function call(method, path, body, headers) {
  return (await api(method, path, body, headers)).data;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function definitions(list, pairs) {
  list.replaceChildren();
  for (const [term, value] of pairs) {
    list.append(el("dt", term), el("dd", value === null || value === undefined || value === "" ? "–" : value));
  }
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

// Who is signed in; shows the sign-in form when nobody is. `onReady` runs once signed in.
async function signedIn(onReady) {
  const form = $("#sign-in");
  const show = (me) => {
    session.me = me;
    session.csrf = me.csrf_token;
    form.hidden = true;
    $("#who").hidden = false;
    const agent = me.agent;
    $("#me").textContent = agent ? `${agent.display_name} (${agent.role})` : me.actor;
    const link = $("#dashboard-link");
    if (link) link.hidden = agent !== null && agent.role === "agent";
    onReady(me);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      show(await call("POST", "/v1/agent/session", {
        username: $("#username").value.trim(),
        password: $("#password").value,
      }));
      say("");
    } catch (error) {
      say(error.message, true);
    }
  });
  $("#sign-out").addEventListener("click", async () => {
    await api("DELETE", "/v1/agent/session").catch(() => null);
    window.location.reload();
  });
  try {
    show(await call("GET", "/v1/agent/me"));
  } catch (error) {
    form.hidden = false;
    if (error.status !== 401) say(error.message, true);
  }
}
