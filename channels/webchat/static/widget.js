/* The embeddable web chat: one <script src="https://SERVICE/chat/widget.js" async></script>
 * on a site adds a floating chat button that opens the chat page in a panel (an iframe of
 * /chat?embed=1 on the service, so the site's page and the chat stay apart).
 * Optional attributes on the script tag: data-lang="zh|zh-Hant|zh-TW|en", data-position="left|right". */
(function () {
  "use strict";
  if (window.__aftersalesChatWidget) { return; }
  window.__aftersalesChatWidget = true;

  var script = document.currentScript;
  var base = new URL(script ? script.src : "/chat/widget.js", window.location.href);
  // "zh" (Simplified), "zh-Hant" (Traditional: zh-TW, zh-HK, zh-MO, zh-Hant) or "en"; the chat
  // page in the panel picks the same way from the same browser.
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
  var tags = (script && script.dataset.lang) ? [script.dataset.lang]
    : (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
  var lang = "en";
  for (var i = 0; i < tags.length; i += 1) {
    if (textsFor(tags[i])) { lang = textsFor(tags[i]); break; }
  }
  var chatUrl = new URL("/chat?embed=1", base);
  if (script && script.dataset.lang) { chatUrl.searchParams.set("lang", lang); }
  chatUrl = chatUrl.toString();
  var side = script && script.dataset.position === "left" ? "left" : "right";
  var labels = {
    zh: { open: "在线客服", close: "关闭" },
    "zh-Hant": { open: "線上客服", close: "關閉" },
    en: { open: "Chat with us", close: "Close" }
  }[lang];

  function style(node, rules) {
    Object.keys(rules).forEach(function (key) { node.style[key] = rules[key]; });
  }

  var button = document.createElement("button");
  button.type = "button";
  button.id = "aftersales-chat-button";
  button.textContent = labels.open;
  button.setAttribute("aria-expanded", "false");
  style(button, {
    position: "fixed", bottom: "20px", zIndex: "2147483646", padding: "12px 18px",
    border: "0", borderRadius: "24px", background: "#1f5fa8", color: "#fff",
    font: "15px system-ui, sans-serif", cursor: "pointer", boxShadow: "0 4px 14px rgba(0,0,0,.25)"
  });
  button.style[side] = "20px";

  var panel = document.createElement("div");
  panel.id = "aftersales-chat-panel";
  style(panel, {
    position: "fixed", bottom: "76px", width: "370px", maxWidth: "calc(100vw - 24px)",
    height: "560px", maxHeight: "calc(100vh - 96px)", zIndex: "2147483647", display: "none",
    borderRadius: "12px", overflow: "hidden", boxShadow: "0 8px 30px rgba(0,0,0,.3)", background: "#fff"
  });
  panel.style[side] = "20px";

  var frame = null;
  function toggle() {
    var open = panel.style.display === "none";
    if (open && !frame) {
      frame = document.createElement("iframe");
      frame.src = chatUrl;
      frame.title = labels.open;
      style(frame, { width: "100%", height: "100%", border: "0" });
      panel.appendChild(frame);
    }
    panel.style.display = open ? "block" : "none";
    button.textContent = open ? labels.close : labels.open;
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }
  button.addEventListener("click", toggle);

  function mount() {
    document.body.appendChild(panel);
    document.body.appendChild(button);
  }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
