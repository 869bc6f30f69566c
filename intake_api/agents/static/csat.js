// CSAT page: /csat/<ticket id>?token=<status token>; posts the score and comment once.
"use strict";

const ticketId = decodeURIComponent(location.pathname.split("/").pop());
const token = new URLSearchParams(location.search).get("token") || "";
const scores = document.querySelector("#scores");
let score = 0;

for (let value = 1; value <= 5; value += 1) {
  const label = document.createElement("label");
  const input = document.createElement("input");
  input.type = "radio";
  input.name = "score";
  input.value = String(value);
  input.addEventListener("change", () => { score = value; });
  label.appendChild(input);
  label.appendChild(document.createTextNode(` ${value} `));
  scores.appendChild(label);
}

document.querySelector("#csat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = document.querySelector("#status");
  if (!score) {
    status.textContent = "Please pick a score · 请选择分数";
    return;
  }
  const comment = document.querySelector("#csat-comment").value.trim() || null;
  const path = `/v1/tickets/${encodeURIComponent(ticketId)}/csat?token=${encodeURIComponent(token)}`;
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ score, comment }),
  });
  const data = await response.json().catch(() => ({}));
  status.textContent = response.ok ? "Thank you! · 谢谢！" : data.message || `HTTP ${response.status}`;
});
