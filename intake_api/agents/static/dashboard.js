// The manager's dashboard: the figures of GET /v1/kpis over a date range and filters, charts
// drawn with the packaged Chart.js, SLA tables whose numbers drill down to their tickets, the
// knowledge gaps with a KB draft each, and a CSV export.
"use strict";

const FILTERS = ["channel", "priority", "tier", "skill_group", "agent", "category", "product_line"];
const charts = {};
let figures = null;

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function query(extra) {
  const params = new URLSearchParams();
  params.set("from", `${$("#d-from").value}T00:00:00Z`);
  const end = new Date(`${$("#d-to").value}T00:00:00Z`);
  end.setUTCDate(end.getUTCDate() + 1); // the "to" day is included
  params.set("to", end.toISOString());
  for (const name of FILTERS) {
    const value = $(`#d-${name}`).value.trim();
    if (value) params.set(name, value);
  }
  for (const [key, value] of Object.entries(extra || {})) params.set(key, value);
  return params.toString();
}

function percent(rate) {
  return rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1)} %`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function renderFigures(k) {
  const box = $("#figures");
  box.replaceChildren();
  const shown = [
    ["ai-handling", "AI handling share", percent(k.ai_handling.share)],
    ["durable", "Durable resolution", percent(k.durable_resolution.rate)],
    ["first-response", "First response (p50)", duration(k.first_response.p50_seconds)],
    ["resolution-time", "Resolution time (p50)", duration(k.resolution_time.p50_seconds)],
    ["fcr", "First-contact resolution", percent(k.first_contact_resolution.rate)],
    ["sla-response", "SLA response", percent(k.sla.all.response.rate)],
    ["sla-resolution", "SLA resolution", percent(k.sla.all.resolution.rate)],
    ["csat", "CSAT (1-5)", k.csat.avg === null ? "–" : k.csat.avg.toFixed(2)],
    ["survey-rate", "Survey response rate", percent(k.csat.response_rate)],
    ["repeat", "Repeat faults (30 days)", percent(k.repeat_faults.share)],
    ["unit-repeats", "Unit repeat faults (alarms)", k.repeat_faults.unit_repeats],
    ["tickets", "Tickets", k.tickets],
  ];
  for (const [id, label, value] of shown) {
    const card = el("div", null, "figure");
    card.id = `fig-${id}`;
    card.append(el("div", value, "value"), el("div", label, "label"));
    box.append(card);
  }
}

function draw(id, type, labels, datasets, onPick) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart($(`#${id}`), {
    type,
    data: { labels, datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      onClick: (event, elements) => {
        if (onPick && elements.length) onPick(labels[elements[0].index], elements[0].datasetIndex);
      },
    },
  });
}

function renderCharts(k) {
  const priorities = ["P1", "P2", "P3", "P4"];
  draw("chart-sla", "bar", priorities, [
    { label: "response %", data: priorities.map((p) => (k.sla[p].response.rate ?? 0) * 100) },
    { label: "resolution %", data: priorities.map((p) => (k.sla[p].resolution.rate ?? 0) * 100) },
  ], (priority, dataset) => drill(dataset === 0 ? "sla.response" : "sla.resolution", "priority", priority, "breached"));
  const bars = (id, counts, dimension) => {
    const labels = Object.keys(counts);
    draw(id, "bar", labels, [{ label: "tickets", data: labels.map((label) => counts[label]) }],
      dimension ? (label) => drill("volume", dimension, label, "all") : null);
  };
  bars("chart-channel", k.volume.tickets_by_channel, "channel");
  bars("chart-category", k.volume.tickets_by_category, "category");
  bars("chart-line", k.volume.tickets_by_product_line, "product_line");
  bars("chart-handoff", k.handoff_reasons, null);
  bars("chart-csat", k.csat.distribution, null);
}

function countButton(count, onClick) {
  const td = el("td");
  const button = el("button", count, "count");
  button.type = "button";
  button.addEventListener("click", onClick);
  td.append(button);
  return td;
}

function renderSlaTable() {
  const dimension = $("#sla-dimension").value;
  const groups = dimension === "priority"
    ? Object.fromEntries(["P1", "P2", "P3", "P4"].map((p) => [p, figures.sla[p]]))
    : figures.sla_by[dimension] || {};
  const body = $("#sla-table tbody");
  body.replaceChildren();
  for (const [group, sla] of Object.entries(groups)) {
    const row = el("tr");
    row.dataset.group = group;
    row.append(el("td", group));
    for (const kind of ["response", "resolution"]) {
      row.append(
        countButton(sla[kind].met, () => drill(`sla.${kind}`, dimension, group, "met")),
        countButton(sla[kind].breached, () => drill(`sla.${kind}`, dimension, group, "breached")),
        el("td", percent(sla[kind].rate)),
      );
    }
    body.append(row);
  }
}

function renderGaps(k) {
  const body = $("#gaps-table tbody");
  body.replaceChildren();
  for (const gap of k.knowledge_gaps) {
    const row = el("tr");
    const link = el("a", "KB draft");
    link.href = `/v1/kpis/knowledge-gaps/draft?${query({ label: gap.label })}`;
    link.download = `${gap.label}.yaml`;
    const cell = el("td");
    cell.append(link);
    row.append(el("td", gap.label), el("td", gap.count), el("td", gap.examples.join(" | ")), cell);
    body.append(row);
  }
  if (!k.knowledge_gaps.length) body.append(el("tr", "No unanswered questions in this range."));
}

async function drill(metric, dimension, group, outcome) {
  try {
    const found = await call("GET", `/v1/kpis/tickets?${query({ metric, dimension, group, outcome })}`);
    $("#drill").hidden = false;
    $("#drill-title").textContent = `${found.tickets.length} tickets: ${metric} ${outcome}, ${dimension} ${group}`;
    const body = $("#drill-table tbody");
    body.replaceChildren();
    for (const ticket of found.tickets) {
      const row = el("tr");
      row.dataset.id = ticket.id;
      row.append(el("td", ticket.id), el("td", ticket.subject), el("td", ticket.status),
        el("td", ticket.priority), el("td", ticket.tier), el("td", ticket.assignee || "–"), el("td", when(ticket.created_at)));
      body.append(row);
    }
    $("#drill").scrollIntoView();
  } catch (error) {
    say(error.message, true);
  }
}

async function load(event) {
  if (event) event.preventDefault();
  try {
    figures = await call("GET", `/v1/kpis?${query()}`);
    $("#csv").href = `/v1/kpis/export.csv?${query()}`;
    renderFigures(figures);
    renderCharts(figures);
    renderSlaTable();
    renderGaps(figures);
    $("#drill").hidden = true;
    say(`Updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    say(error.message, true);
  }
}

signedIn(() => {
  const today = new Date();
  const monthAgo = new Date(today.getTime() - 29 * 86400 * 1000);
  $("#d-from").value = isoDay(monthAgo);
  $("#d-to").value = isoDay(today);
  $("#dashboard").hidden = false;
  $("#dash-filters").addEventListener("submit", load);
  $("#sla-dimension").addEventListener("change", renderSlaTable);
  load();
});
