/* The web chat page: a WebSocket to /chat/ws that reconnects with back-off, the conversation
 * re-sent by the server on every connect, quick replies, live ticket status, zh/en.
 * Everything the customer or the bot writes is set with textContent, never parsed as HTML. */
(function () {
  "use strict";

  var TOKEN_KEY = "aftersales.chat.token";
  var LANG_KEY = "aftersales.chat.lang";
  var MAX_DELAY_MS = 10000;
  var RETRY_MS = 2000;

  var TEXTS = {
    zh: {
      title: "售后服务在线客服",
      placeholder: "描述设备故障现象或报警代码…",
      send: "发送",
      toggle: "English",
      connecting: "连接中…",
      online: "在线",
      offline: "已断开，正在重连…",
      ticket: "工单",
      rate_limited: "消息发送太频繁，请稍后再试。",
      bad_frame: "消息未能发送：",
      welcome: "您好！请描述设备的故障现象或报警代码，我来帮您排查。",
      statuses: {
        "new": "已受理", triaged: "已分派", assigned: "已指派工程师", in_progress: "处理中",
        waiting_customer: "等待您的回复", resolved: "已解决", closed: "已关闭", cancelled: "已取消"
      }
    },
    en: {
      title: "After-sales service chat",
      placeholder: "Describe the fault or the alarm code…",
      send: "Send",
      toggle: "中文",
      connecting: "Connecting…",
      online: "Online",
      offline: "Disconnected, reconnecting…",
      ticket: "Ticket",
      rate_limited: "You are sending messages too fast; please wait a moment.",
      bad_frame: "The message was not sent: ",
      welcome: "Hello! Describe the fault or the alarm code of your equipment and I will help.",
      statuses: {
        "new": "received", triaged: "triaged", assigned: "assigned to an engineer",
        in_progress: "in progress", waiting_customer: "waiting for your reply",
        resolved: "resolved", closed: "closed", cancelled: "cancelled"
      }
    }
  };

  var lang = pickLang();
  var socket = null;
  var attempt = 0;
  var connectionState = "connecting";
  var pending = [];          // messages sent but not answered yet: {id, text}
  var rendered = {};         // client ids of customer messages on the page
  var tickets = {};          // ticket id -> {status, seq}
  var el = {};

  function pickLang() {
    var stored = null;
    try { stored = localStorage.getItem(LANG_KEY); } catch (e) { /* storage off */ }
    if (stored === "zh" || stored === "en") { return stored; }
    var asked = new URLSearchParams(window.location.search).get("lang");  // the widget's data-lang
    if (asked === "zh" || asked === "en") { return asked; }
    var browser = (navigator.language || "en").toLowerCase();
    return browser.indexOf("zh") === 0 ? "zh" : "en";
  }

  function t(key) { return TEXTS[lang][key]; }

  function statusLabel(status) { return TEXTS[lang].statuses[status] || status; }

  function storedToken() {
    try { return localStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  function storeToken(token) {
    try { localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* storage off */ }
  }

  function newId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // --- rendering (textContent only) -----------------------------------------------------------

  function applyTexts() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("title");
    el.title.textContent = t("title");
    el.input.placeholder = t("placeholder");
    el.send.textContent = t("send");
    el.toggle.textContent = t("toggle");
    setConnection(connectionState);
    Object.keys(tickets).forEach(renderTicket);
    var welcome = el.messages.querySelector(".msg-welcome .bubble");
    if (welcome) { welcome.textContent = t("welcome"); }
  }

  function setConnection(state) {
    connectionState = state;
    el.connection.dataset.state = state;
    el.connection.textContent = t(state);
  }

  function addMessage(kind, text, clientId) {
    var item = document.createElement("li");
    item.className = "msg msg-" + kind;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    item.appendChild(bubble);
    if (clientId) {
      item.dataset.clientId = clientId;
      rendered[clientId] = item;
    }
    el.messages.appendChild(item);
    el.messages.scrollTop = el.messages.scrollHeight;
    return item;
  }

  function showWelcome() {
    addMessage("bot", t("welcome")).classList.add("msg-welcome");
  }

  function setButtons(buttons) {
    el.quick.replaceChildren();
    (buttons || []).forEach(function (button) {
      var node = document.createElement("button");
      node.type = "button";
      node.className = "quick-reply";
      node.textContent = button.label;
      node.addEventListener("click", function () { say(button.says); });
      el.quick.appendChild(node);
    });
  }

  function renderTicket(ticketId) {
    var ticket = tickets[ticketId];
    var row = el.tickets.querySelector('[data-ticket-id="' + CSS.escape(ticketId) + '"]');
    if (!row) {
      row = document.createElement("div");
      row.className = "ticket";
      row.dataset.ticketId = ticketId;
      ["ticket-label", "ticket-id", "ticket-status"].forEach(function (name) {
        var span = document.createElement("span");
        span.className = name;
        row.appendChild(span);
      });
      el.tickets.prepend(row);
    }
    row.querySelector(".ticket-label").textContent = t("ticket");
    row.querySelector(".ticket-id").textContent = ticketId;
    var status = row.querySelector(".ticket-status");
    status.dataset.status = ticket.status;
    status.textContent = statusLabel(ticket.status);
  }

  function updateTicket(ticketId, status, seq) {
    var known = tickets[ticketId];
    if (known && seq && known.seq && seq <= known.seq) { return; }
    tickets[ticketId] = { status: status, seq: seq || (known && known.seq) || 0 };
    renderTicket(ticketId);
  }

  // --- frames from the server -----------------------------------------------------------------

  var handlers = {
    session: function (frame) { storeToken(frame.token); },
    history: function (frame) {
      el.messages.replaceChildren();
      rendered = {};
      showWelcome();
      frame.messages.forEach(function (line) {
        var kind = line.from === "customer" ? "customer" : (line.action === "notice" ? "notice" : "bot");
        addMessage(kind, line.text, line.client_id);
      });
      setButtons(frame.buttons);
      pending.slice().forEach(function (message) {
        if (rendered[message.id]) {
          pending = pending.filter(function (p) { return p.id !== message.id; });
        } else {
          addMessage("customer", message.text, message.id).classList.add("pending");
          transmit(message);
        }
      });
    },
    message: function (frame) {
      if (frame.from === "customer") {
        if (!rendered[frame.client_id]) { addMessage("customer", frame.text, frame.client_id); }
        return;
      }
      addMessage(frame.action === "notice" ? "notice" : "bot", frame.text);
      if (frame.buttons && frame.buttons.length) { setButtons(frame.buttons); }
    },
    reply: function (frame) {
      pending = pending.filter(function (p) { return p.id !== frame.client_id; });
      var mine = rendered[frame.client_id];
      if (mine) { mine.classList.remove("pending"); }
      frame.replies.forEach(function (text) { addMessage("bot", text); });
      setButtons(frame.buttons);
      if (frame.ticket) { updateTicket(frame.ticket.id, frame.ticket.status, 0); }
    },
    ticket: function (frame) { updateTicket(frame.ticket_id, frame.status, frame.seq); },
    error: function (frame) {
      var retry = frame.code === "unavailable" && pending.filter(function (p) {
        return p.id === frame.id;
      })[0];
      if (retry) {  // the service was busy: the same id again cannot be taken twice
        window.setTimeout(function () { transmit(retry); }, RETRY_MS);
        return;
      }
      if (frame.id) {
        pending = pending.filter(function (p) { return p.id !== frame.id; });
        var mine = rendered[frame.id];
        if (mine) { mine.classList.remove("pending"); mine.classList.add("failed"); }
      }
      var text = frame.code === "rate_limited" ? t("rate_limited") : t("bad_frame") + frame.message;
      addMessage("system", text);
    }
  };

  // --- the socket -----------------------------------------------------------------------------

  function socketUrl() {
    var url = new URL("/chat/ws", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    var token = storedToken();
    if (token) { url.searchParams.set("token", token); }
    return url.toString();
  }

  function connect() {
    setConnection(attempt === 0 ? "connecting" : "offline");
    socket = new WebSocket(socketUrl());
    socket.addEventListener("open", function () {
      attempt = 0;
      setConnection("online");
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      var handler = handlers[frame.type];
      if (handler) { handler(frame); }
    });
    socket.addEventListener("close", function () {
      setConnection("offline");
      var delay = Math.min(MAX_DELAY_MS, 500 * Math.pow(2, attempt));
      attempt += 1;
      window.setTimeout(connect, delay * (0.5 + Math.random() / 2));
    });
  }

  function transmit(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "message", id: message.id, text: message.text }));
    }
    // otherwise it goes out after the next connect's history (see `handlers.history`)
  }

  function say(text) {
    text = (text || "").trim();
    if (!text) { return; }
    var message = { id: newId(), text: text };
    pending.push(message);
    addMessage("customer", text, message.id).classList.add("pending");
    setButtons([]);
    transmit(message);
  }

  // --- start ----------------------------------------------------------------------------------

  function start() {
    ["title", "connection", "tickets", "messages", "input", "send", "composer"].forEach(function (id) {
      el[id] = document.getElementById(id);
    });
    el.toggle = document.getElementById("lang-toggle");
    el.quick = document.getElementById("quick-replies");
    el.composer.addEventListener("submit", function (event) {
      event.preventDefault();
      say(el.input.value);
      el.input.value = "";
      el.input.focus();
    });
    el.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        el.composer.requestSubmit();
      }
    });
    el.toggle.addEventListener("click", function () {
      lang = lang === "zh" ? "en" : "zh";
      try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* storage off */ }
      applyTexts();
    });
    applyTexts();
    showWelcome();
    connect();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
