// The page of reencoder-serve: no build step, plain DOM and SVG.
// POST /translate for every loaded model; for a model with a grid (the Reencoder), POST /heatmap per
// line, its target words hoverable: the hovered word's columns of the grid are drawn in full colour.
"use strict";

const state = { models: [], info: {}, lines: [], heat: {} };
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
// viridis, 9 stops (matplotlib's colour map, as the PNG heat maps of reencoder-heatmap)
const VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"];

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// a sentencepiece label as drawn: without the word-boundary mark (a bare mark: an open box)
const shown = (piece) => piece.replace(/\u2581/g, "") || "\u2423";

function status(message, isError = false) {
  $("status").textContent = message;
  $("status").className = isError ? "error" : "";
}

function colour(t) {
  const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const mix = (a, b) => Math.round(a + (b - a) * (x - i));
  const [p, q] = [VIRIDIS[i], VIRIDIS[i + 1]].map((h) => [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16)));
  return `rgb(${mix(p[0], q[0])},${mix(p[1], q[1])},${mix(p[2], q[2])})`;
}

function modelCard(name, translations, ms) {
  const info = state.info[name] || {};
  const card = el("div", { class: "model" + (info.heatmap ? " grid-model" : ""), "data-model": name });
  if (ms !== undefined) card.append(el("span", { class: "ms" }, `${ms.toFixed(0)} ms`));
  card.append(el("h3", {}, name), el("div", { class: "kind" }, info.kind || ""));
  const list = el("ol");
  (translations || []).forEach((text, k) => {
    const item = el("li", { class: "translation", "data-line": k });
    item.textContent = text;
    list.append(item);
  });
  card.append(list);
  return card;
}

function showWords(name, k) {
  const heat = state.heat[`${name}/${k}`];
  const item = document.querySelector(`.model[data-model="${name}"] li[data-line="${k}"]`);
  if (!heat || !item) return;
  item.textContent = "";
  heat.words.forEach((word, w) => {
    const span = el("span", { class: "word", "data-word": w }, word.text);
    span.addEventListener("mouseenter", () => drawHeatmap(name, k, w));
    item.append(span, " ");
  });
}

async function fetchHeatmaps(name, translations) {
  for (const [k, target] of translations.entries()) {
    if (!target || !state.lines[k].trim()) continue;
    try {
      state.heat[`${name}/${k}`] = await api("/heatmap", { model: name, source: state.lines[k], target });
      showWords(name, k);
    } catch (error) {
      $("grid-note").textContent = `${name}, line ${k + 1}: ${error.message}`;
    }
  }
}

function drawHeatmap(name, k, w) {
  const heat = state.heat[`${name}/${k}`];
  const word = heat.words[w];
  document.querySelectorAll(".word.active").forEach((n) => n.classList.remove("active"));
  const span = document.querySelector(`.model[data-model="${name}"] li[data-line="${k}"] .word[data-word="${w}"]`);
  if (span) span.classList.add("active");
  const rows = heat.src_labels.length, cols = heat.tgt_labels.length, cell = 30, left = 70, top = 90;
  const flat = heat.values.flat().filter((v) => v !== null);
  const lo = Math.min(...flat), hi = Math.max(...flat);
  const root = svg("svg", { width: left + cols * cell + 20, height: top + rows * cell + 10, role: "img",
    "aria-label": `grid heat map for ${word.text}` });
  const chosen = new Set(word.columns);
  heat.values.forEach((row, i) => row.forEach((v, j) => {
    const rect = svg("rect", { x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1,
      fill: v === null ? "#eee" : colour((v - lo) / (hi - lo || 1)), opacity: chosen.has(j) ? 1 : 0.25,
      class: "cell", "data-i": i, "data-j": j });
    rect.append(svg("title", {}, `${shown(heat.src_labels[i])} × ${shown(heat.tgt_labels[j])}: ${v === null ? "-" : v.toFixed(3)}`));
    root.append(rect);
  }));
  heat.src_labels.forEach((label, i) => root.append(svg("text", { x: left - 6, y: top + i * cell + cell * 0.68,
    "text-anchor": "end", class: "src" }, shown(label))));
  heat.tgt_labels.forEach((label, j) => root.append(svg("text", {
    transform: `translate(${left + j * cell + cell * 0.6},${top - 6}) rotate(-55)`,
    "font-weight": chosen.has(j) ? "bold" : "normal" }, shown(label))));
  const first = Math.min(...word.columns), last = Math.max(...word.columns);
  root.append(svg("rect", { x: left + first * cell - 1, y: top - 1, width: (last - first + 1) * cell + 1,
    height: rows * cell + 1, fill: "none", stroke: "#e8590c", "stroke-width": 2 }));
  $("heatmap").replaceChildren(root);
  $("grid-title").textContent = `${name}, line ${k + 1}, “${word.text}”: ${heat.quantity}, depth ${heat.depth}`;
  const column = heat.src_labels.map((label, i) => [shown(label), Math.max(...word.columns.map((j) => heat.values[i][j] ?? 0))]);
  const top3 = column.sort((a, b) => b[1] - a[1]).slice(0, 3).map(([label, v]) => `${label} (${v.toFixed(2)})`);
  $("grid-note").textContent = `Rows: the Chinese pieces; columns: the English pieces, each the grid row that predicts it. ` +
    `Colour: ${lo.toFixed(2)} (dark) to ${hi.toFixed(2)} (yellow). Re-read most for “${word.text}”: ${top3.join(", ")}.`;
}

async function translate() {
  const text = $("source").value;
  const body = { text };
  if ($("beam").value) body.beam = Number($("beam").value);
  if ($("lenpen").value) body.lenpen = Number($("lenpen").value);
  state.lines = text.replace(/\n$/, "").split("\n");
  state.heat = {};
  $("translate").disabled = true;
  status("translating…");
  try {
    const started = performance.now();
    const data = await api("/translate", body);
    $("results").replaceChildren(...state.models.map((name) => modelCard(name, data.translations[name], data.ms[name])));
    status(`${state.lines.length} line(s), ${state.models.length} model(s), ${(performance.now() - started).toFixed(0)} ms in all`);
    await Promise.all(state.models.filter((name) => state.info[name].heatmap)
      .map((name) => fetchHeatmaps(name, data.translations[name])));
  } catch (error) {
    status(error.message, true);
  } finally {
    $("translate").disabled = false;
  }
}

async function init() {
  try {
    const data = await api("/models");
    state.models = data.models;
    state.info = data.info;
    $("results").replaceChildren(...state.models.map((name) => modelCard(name)));
    if (!state.models.some((name) => state.info[name].heatmap)) $("grid-title").textContent = "no loaded model has a grid";
  } catch (error) {
    status(error.message, true);
  }
  $("translate").addEventListener("click", translate);
  $("source").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) translate();
  });
}

init();
