/* The web chat page: a WebSocket to /chat/ws that reconnects with back-off, the conversation
 * re-sent by the server on every connect, quick replies, live ticket status, zh/en.
 * Everything the customer or the bot writes is set with textContent, never parsed as HTML. */
(function () {
  "use strict";

  var TOKEN_KEY = "aftersales.chat.token";
  var LANG_KEY = "aftersales.chat.lang";
  var MAX_DELAY_MS = 10000;
  var RETRY_MS = 2000;
  // Photos are shrunk in the page (longest side, JPEG quality) and must then fit the service's
  // request limit (1 MB by default, base64-free since the body is the raw bytes).
  var PHOTO_SIDE = 1600;
  var PHOTO_QUALITY = 0.85;
  var MAX_UPLOAD_BYTES = 900000;
  var MAX_PICK_BYTES = 30000000;

  var TEXTS = {
    zh: {
      title: "售后服务在线客服",
      toggleTo: "中文",
      placeholder: "描述设备故障现象或报警代码…",
      send: "发送",
      connecting: "连接中…",
      online: "在线",
      offline: "已断开，正在重连…",
      ticket: "工单",
      rate_limited: "消息发送太频繁，请稍后再试。",
      bad_frame: "消息未能发送：",
      attach: "📷 照片",
      not_image: "只能发送图片（照片或截图）。",
      too_large: "照片太大，请发送小于 30 MB 的照片。",
      upload_failed: "照片未能发送：",
      welcome: "您好！请描述设备的故障现象或报警代码，我来帮您排查。",
      agent: "客服",
      statuses: {
        "new": "已受理", triaged: "已分派", assigned: "已指派工程师", in_progress: "处理中",
        waiting_customer: "等待您的回复", resolved: "已解决", closed: "已关闭", cancelled: "已取消"
      }
    },
    "zh-Hant": {
      title: "售後服務線上客服",
      toggleTo: "繁體中文",
      placeholder: "描述設備故障現象或報警代碼…",
      send: "發送",
      connecting: "連線中…",
      online: "在線",
      offline: "已斷開，正在重新連線…",
      ticket: "工單",
      rate_limited: "訊息發送太頻繁，請稍後再試。",
      bad_frame: "訊息未能發送：",
      attach: "📷 照片",
      not_image: "只能發送圖片（照片或截圖）。",
      too_large: "照片太大，請發送小於 30 MB 的照片。",
      upload_failed: "照片未能發送：",
      welcome: "您好！請描述設備的故障現象或報警代碼，我來幫您排查。",
      agent: "客服",
      statuses: {
        "new": "已受理", triaged: "已分派", assigned: "已指派工程師", in_progress: "處理中",
        waiting_customer: "等待您的回覆", resolved: "已解決", closed: "已關閉", cancelled: "已取消"
      }
    },
    en: {
      title: "After-sales service chat",
      placeholder: "Describe the fault or the alarm code…",
      send: "Send",
      connecting: "Connecting…",
      online: "Online",
      offline: "Disconnected, reconnecting…",
      ticket: "Ticket",
      rate_limited: "You are sending messages too fast; please wait a moment.",
      bad_frame: "The message was not sent: ",
      attach: "📷 Photo",
      not_image: "Only pictures (photos or screenshots) can be sent.",
      too_large: "That photo is too large; send one under 30 MB.",
      upload_failed: "The photo was not sent: ",
      welcome: "Hello! Describe the fault or the alarm code of your equipment and I will help.",
      agent: "Agent",
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
  var stick = true;          // keep the newest message in view (false while the visitor reads back)

  // --- the newest message stays in view ------------------------------------------------------
  // The list shrinks when the ticket bar or the quick replies appear under or above it, when the
  // phone's keyboard opens, or when the widget's panel is resized: each time, the end of the list
  // is scrolled back into view unless the visitor has scrolled up to read.

  function keepNewestInView() {
    if (stick && el.messages) { el.messages.scrollTop = el.messages.scrollHeight; }
  }

  function watchLayout() {
    el.messages.addEventListener("scroll", function () {
      var gap = el.messages.scrollHeight - el.messages.scrollTop - el.messages.clientHeight;
      stick = gap < 24;
    }, { passive: true });
    if (window.ResizeObserver) {
      var observer = new ResizeObserver(keepNewestInView);
      [el.messages, el.tickets, el.quick, el.composer].forEach(function (node) { observer.observe(node); });
    }
    window.addEventListener("resize", keepNewestInView);
  }

  // A language tag as the page's texts: "zh" (Simplified), "zh-Hant" (Traditional: zh-TW,
  // zh-HK, zh-MO, zh-Hant-*) or "en"; null for a language the page is not written in.
  function textsFor(tag) {
    var parts = String(tag || "").toLowerCase().replace(/_/g, "-").split("-");
    if (parts[0] === "en") { return "en"; }
    if (parts[0] !== "zh" && parts[0] !== "yue") { return null; }
    if (parts.indexOf("hant") > 0 || /^(tw|hk|mo)$/.test(parts[parts.length - 1]) ||
        parts[0] === "yue") {
      return parts.indexOf("hans") > 0 ? "zh" : "zh-Hant";
    }
    return "zh";
  }

  // The browser's first language the page is written in (Chinese in the visitor's script).
  function browserLang() {
    var tags = (navigator.languages && navigator.languages.length) ? navigator.languages
      : [navigator.language || "en"];
    for (var i = 0; i < tags.length; i += 1) {
      var found = textsFor(tags[i]);
      if (found) { return found; }
    }
    return "en";
  }

  function pickLang() {
    var stored = null;
    try { stored = localStorage.getItem(LANG_KEY); } catch (e) { /* storage off */ }
    if (stored && TEXTS[stored]) { return stored; }
    var asked = textsFor(new URLSearchParams(window.location.search).get("lang"));  // widget's data-lang
    if (asked) { return asked; }
    return browserLang();
  }

  // The toggle switches between English and the visitor's Chinese script.
  function otherLang() {
    if (lang !== "en") { return "en"; }
    var browser = browserLang();
    return browser === "en" ? "zh" : browser;
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
    document.documentElement.lang = { zh: "zh-CN", "zh-Hant": "zh-Hant", en: "en" }[lang];
    document.title = t("title");
    el.title.textContent = t("title");
    el.input.placeholder = t("placeholder");
    el.send.textContent = t("send");
    el.attach.textContent = t("attach");
    el.attach.title = t("attach");
    el.toggle.textContent = otherLang() === "en" ? "English" : TEXTS[otherLang()].toggleTo;
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

  function addMessage(kind, text, clientId, author) {
    var item = document.createElement("li");
    item.className = "msg msg-" + kind;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    if (kind === "agent") {  // a person's reply: their name above their words
      var name = document.createElement("div");
      name.className = "author";
      name.textContent = author || t("agent");
      bubble.appendChild(name);
      var words = document.createElement("div");
      words.className = "words";
      words.textContent = text;
      bubble.appendChild(words);
    } else {
      bubble.textContent = text;
    }
    item.appendChild(bubble);
    if (clientId) {
      item.dataset.clientId = clientId;
      rendered[clientId] = item;
    }
    el.messages.appendChild(item);
    stick = true;  // a new line: the visitor sees it, whatever was scrolled before
    keepNewestInView();
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
    keepNewestInView();
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
    keepNewestInView();
  }

  function updateTicket(ticketId, status, seq) {
    var known = tickets[ticketId];
    if (known && seq && known.seq && seq <= known.seq) { return; }
    tickets[ticketId] = { status: status, seq: seq || (known && known.seq) || 0 };
    renderTicket(ticketId);
  }

  // --- frames from the server -----------------------------------------------------------------

  // How a stored line looks: the customer's, an agent's (a person, named), a notice, the bot's.
  function kindOf(line) {
    if (line.from === "customer" || line.from === "agent") { return line.from; }
    return line.action === "notice" ? "notice" : "bot";
  }

  var handlers = {
    session: function (frame) { storeToken(frame.token); },
    history: function (frame) {
      el.messages.replaceChildren();
      rendered = {};
      showWelcome();
      frame.messages.forEach(function (line) {
        addMessage(kindOf(line), line.text, line.client_id, line.author);
      });
      setButtons(frame.buttons);
      Object.keys(sendingPhotos).forEach(function (clientId) {
        rendered[clientId] = sendingPhotos[clientId];
        el.messages.appendChild(sendingPhotos[clientId]);
      });
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
      addMessage(kindOf(frame), frame.text, null, frame.author);
      if (frame.buttons && frame.buttons.length) { setButtons(frame.buttons); }
    },
    reply: function (frame) {
      pending = pending.filter(function (p) { return p.id !== frame.client_id; });
      delete sendingPhotos[frame.client_id];
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

  // --- photos -------------------------------------------------------------------------------

  // The photo scaled to at most PHOTO_SIDE pixels and re-encoded as JPEG (a phone photo of
  // several MB becomes a few hundred kB), plus a small data: URL to show (the page's CSP allows
  // images from data: only).
  function shrink(file) {
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, PHOTO_SIDE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      var preview = canvas.toDataURL("image/jpeg", 0.6);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve({ blob: blob, preview: preview }); },
          "image/jpeg", PHOTO_QUALITY);
      });
    });
  }

  // Photos on their way, by client id: a history that arrives meanwhile (a connect or reconnect
  // re-renders the list) must not drop them.
  var sendingPhotos = {};

  function addPhoto(clientId, preview) {
    var item = addMessage("customer", "", clientId);
    sendingPhotos[clientId] = item;
    var bubble = item.querySelector(".bubble");
    var image = document.createElement("img");
    image.className = "photo";
    image.alt = t("attach");
    image.src = preview;
    var progress = document.createElement("progress");
    progress.className = "progress";
    progress.max = 100;
    progress.value = 0;
    bubble.append(image, progress);
    item.classList.add("pending");
    return item;
  }

  function failPhoto(item, message) {
    delete sendingPhotos[item.dataset.clientId];
    item.classList.remove("pending");
    item.classList.add("failed");
    var progress = item.querySelector("progress");
    if (progress) { progress.remove(); }
    addMessage("system", t("upload_failed") + message);
  }

  function upload(item, clientId, blob) {
    var url = new URL("/chat/upload", window.location.href);
    url.searchParams.set("token", storedToken() || "");
    url.searchParams.set("id", clientId);
    url.searchParams.set("lang", lang);
    var request = new XMLHttpRequest();
    request.open("POST", url.toString());
    request.setRequestHeader("Content-Type", blob.type || "image/jpeg");
    var progress = item.querySelector("progress");
    request.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) { progress.value = Math.round(100 * event.loaded / event.total); }
    });
    request.addEventListener("load", function () {
      if (request.status === 200) {  // the bot's reply comes over the socket, as for text
        progress.remove();
        item.classList.remove("pending");
        return;
      }
      var message = request.statusText;
      try { message = JSON.parse(request.responseText).message || message; } catch (e) { /* not JSON */ }
      failPhoto(item, message);
    });
    request.addEventListener("error", function () { failPhoto(item, t("offline")); });
    request.send(blob);
  }

  function sendPhoto(file) {
    if (!file) { return; }
    if (!/^image\//.test(file.type)) { addMessage("system", t("not_image")); return; }
    if (file.size > MAX_PICK_BYTES) { addMessage("system", t("too_large")); return; }
    shrink(file).then(function (photo) {
      if (!photo.blob || photo.blob.size > MAX_UPLOAD_BYTES) {
        addMessage("system", t("too_large"));
        return;
      }
      var clientId = newId();
      setButtons([]);
      upload(addPhoto(clientId, photo.preview), clientId, photo.blob);
    }, function () { addMessage("system", t("not_image")); });
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
    el.attach = document.getElementById("attach");
    el.file = document.getElementById("file");
    el.attach.addEventListener("click", function () { el.file.click(); });
    el.file.addEventListener("change", function () {
      sendPhoto(el.file.files[0]);
      el.file.value = "";
    });
    el.input.addEventListener("paste", function (event) {  // a pasted screenshot or photo
      var items = (event.clipboardData && event.clipboardData.items) || [];
      for (var i = 0; i < items.length; i += 1) {
        if (items[i].kind === "file" && /^image\//.test(items[i].type)) {
          event.preventDefault();
          sendPhoto(items[i].getAsFile());
          return;
        }
      }
    });
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
      lang = otherLang();
      try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* storage off */ }
      applyTexts();
    });
    watchLayout();
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
