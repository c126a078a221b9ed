// report.html's chunk browser (lethe-report compiles this file in). It reads the chunks lethe-report embedded
// (ChunkBrowser.swift writes them), filters them by run, dataset, length bucket, category, F1 range and text, gives
// the count beside every choice, and draws only the rows in view, so the page stays fast with 100,000 chunks.
// The address's fragment holds the filters and the chosen chunk (#dataset=aave&bucket=8&chunk=shard-000000/KEY).
"use strict";
(() => {
  const errors = document.getElementById("errors");
  window.addEventListener("error", (event) => {
    errors.hidden = false;
    errors.textContent += "report.html: " + event.message + "\n";
  });

  const data = JSON.parse(document.getElementById("lethe-chunks").textContent);
  const C = data.chunks, N = C.id.length, TABLES = data.categoryTables;
  const TABLE_LABEL = { pos: "POS", ner: "NER", class: "class" };

  // Each chunk's words: start and end in its reference (UTF-16 units) and tag, from PackedIntegers' letters.
  const DIGIT = new Int8Array(128).fill(-1);
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split("")
    .forEach((letter, value) => { DIGIT[letter.charCodeAt(0)] = value; });
  const firstWord = new Int32Array(N + 1), wordStart = [], wordEnd = [], wordTag = [];
  for (let i = 0; i < N; i++) {
    const packed = C.words[i];
    let value = 0, scale = 1, field = 0, end = 0, start = 0;
    for (let k = 0; k < packed.length; k++) {
      const digit = DIGIT[packed.charCodeAt(k)];
      value += (digit & 31) * scale;
      if (digit & 32) { scale *= 32; continue; }
      if (field === 0) start = end + value;
      else if (field === 1) { end = start + value; wordStart.push(start); wordEnd.push(end); }
      else wordTag.push(value);
      field = (field + 1) % 3;
      value = 0; scale = 1;
    }
    firstWord[i + 1] = wordStart.length;
  }
  const tagOmitted = data.tags.map((tag) => tag[TABLES.length]);
  // Category keys are "table:name", in the report's row order.
  const categoryKeys = [];
  TABLES.forEach((table, t) => data.categories[t].forEach((name) => categoryKeys.push(table + ":" + name)));
  const tagCategoryKeys = data.tags.map((tag) => TABLES.map((table, t) => tag[t] === null ? null : table + ":" + tag[t])
    .filter((key) => key !== null));
  // A category the order left out still gets its choice, after the others.
  for (const keys of tagCategoryKeys) for (const key of keys) if (!categoryKeys.includes(key)) categoryKeys.push(key);
  const omittedInChunk = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    for (let w = firstWord[i]; w < firstWord[i + 1]; w++) omittedInChunk[i] += tagOmitted[wordTag[w]];
  }
  const buckets = Array.from(new Set(C.bucket)).sort((a, b) => a - b);
  const idIndex = new Map(C.id.map((id, i) => [id, i]));
  let searchText = null;  // lowercased reference and reconstruction, built at the first search

  // Filters, as in the controls and the address.
  const FILTERS = ["run", "dataset", "bucket", "category", "f1min", "f1max", "q"];
  const state = { run: "", dataset: "", bucket: "", category: "", f1min: "", f1max: "", q: "", chunk: "" };
  const control = {};
  for (const name of FILTERS) control[name] = document.getElementById("f-" + name);

  // A report of one run has no run to choose.
  document.getElementById("f-run").parentElement.hidden = data.runs.length < 2;

  // Each chunk's failed filters as bits: a chunk is shown when none fails, and counts beside a filter's choices
  // when no other filter fails.
  const FAILS = { run: 1, dataset: 2, bucket: 4, category: 8, f1: 16, q: 32 };
  function failures() {
    const run = state.run === "" ? -1 : data.runs.indexOf(state.run);
    const dataset = state.dataset === "" ? -1 : data.datasets.indexOf(state.dataset);
    const bucket = state.bucket === "" ? 0 : Number(state.bucket);
    const f1Set = state.f1min !== "" || state.f1max !== "";
    const f1Min = state.f1min === "" ? -Infinity : Number(state.f1min);
    const f1Max = state.f1max === "" ? Infinity : Number(state.f1max);
    const query = state.q.toLowerCase();
    if (query !== "" && searchText === null) {
      searchText = C.reference.map((text, i) => [text.toLowerCase(), C.reconstruction[i].toLowerCase()]);
    }
    let inCategory = null;
    if (state.category !== "") {
      inCategory = new Uint8Array(data.tags.length);
      tagCategoryKeys.forEach((keys, tag) => { inCategory[tag] = keys.includes(state.category) ? 1 : 0; });
    }
    const fails = new Uint8Array(N);
    for (let i = 0; i < N; i++) {
      let bits = 0;
      if (run >= 0 && C.run[i] !== run) bits |= FAILS.run;
      if (dataset >= 0 && C.dataset[i] !== dataset) bits |= FAILS.dataset;
      if (bucket > 0 && C.bucket[i] !== bucket) bits |= FAILS.bucket;
      if (f1Set && (C.f1[i] === null || C.f1[i] < f1Min || C.f1[i] > f1Max)) bits |= FAILS.f1;
      if (query !== "" && !searchText[i][0].includes(query) && !searchText[i][1].includes(query)) bits |= FAILS.q;
      if (inCategory !== null) {
        let found = false;
        for (let w = firstWord[i]; w < firstWord[i + 1] && !found; w++) found = inCategory[wordTag[w]] === 1;
        if (!found) bits |= FAILS.category;
      }
      fails[i] = bits;
    }
    return fails;
  }

  // Chunks, scored chunks, ROUGE sums (in chunk order, as rouge.csv sums them), words and omitted words.
  function newTally() { return { chunks: 0, scored: 0, precision: 0, recall: 0, f1: 0, words: 0, omitted: 0 }; }
  function count(tally, i) {
    tally.chunks += 1;
    if (C.f1[i] !== null) {
      tally.scored += 1; tally.precision += C.precision[i]; tally.recall += C.recall[i]; tally.f1 += C.f1[i];
    }
    tally.words += firstWord[i + 1] - firstWord[i];
    tally.omitted += omittedInChunk[i];
  }

  const number = new Intl.NumberFormat("en-US");
  // A finite number rounded to digits >= 1 as report.md rounds it (C's printf: the exact binary value, ties to
  // even); toFixed rounds ties up.
  function rounded(x, digits) {
    const exact = x.toFixed(100), cut = exact.indexOf(".") + 1 + digits;
    if (/^50*$/.test(exact.slice(cut)) && Number(exact[cut - 1]) % 2 === 0) return exact.slice(0, cut);
    return x.toFixed(digits);
  }
  // A rate as report.md computes it (omitted / n, then times 100).
  function percent(part, whole) { return whole === 0 ? "–" : rounded(100 * (part / whole), 1) + "%"; }
  function mean(sum, n) { return n === 0 ? "" : String(sum / n); }
  function fixed(value, digits) { return value === "" ? "–" : rounded(Number(value), digits); }
  function span(id, value, text) {
    return `<span id="${id}" data-value="${value}">${text === undefined ? number.format(value) : text}</span>`;
  }
  function escapeHTML(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function fillSelect(select, anyLabel, options, selected) {
    select.innerHTML = `<option value="">${anyLabel}</option>` + options.map((option) =>
      `<option value="${escapeHTML(option.value)}"${Object.entries(option.data).map(([k, v]) => ` data-${k}="${v}"`).join("")}>` +
      `${escapeHTML(option.label)}</option>`).join("");
    select.value = selected;
  }

  function facetOptions(groups, label) {
    return groups.map(([value, tally]) => ({
      value: String(value), label: `${label(value)} (${number.format(tally.chunks)})`,
      data: { chunks: tally.chunks, scored: tally.scored, f1: mean(tally.f1, tally.scored), words: tally.words, omitted: tally.omitted },
    }));
  }

  let shown = [];
  function update() {
    const started = performance.now();
    // Each choice's count: the chunks it would give with the other filters as they are.
    const byRun = data.runs.map(() => newTally()), byDataset = data.datasets.map(() => newTally()), byBucket = new Map(buckets.map((b) => [b, newTally()]));
    const categoryWords = new Map(categoryKeys.map((key) => [key, [0, 0]]));
    const fails = failures();
    const total = newTally();
    let categoryTally = [0, 0];
    shown = [];
    for (let i = 0; i < N; i++) {
      const bits = fails[i];
      if ((bits & ~FAILS.run) === 0) count(byRun[C.run[i]], i);
      if ((bits & ~FAILS.dataset) === 0) count(byDataset[C.dataset[i]], i);
      if ((bits & ~FAILS.bucket) === 0) count(byBucket.get(C.bucket[i]), i);
      if ((bits & ~FAILS.category) === 0) {
        for (let w = firstWord[i]; w < firstWord[i + 1]; w++) {
          for (const key of tagCategoryKeys[wordTag[w]]) {
            const tally = categoryWords.get(key);
            tally[0] += 1; tally[1] += tagOmitted[wordTag[w]];
          }
        }
      }
      if (bits === 0) {
        count(total, i);
        shown.push(i);
        if (state.category !== "") {
          for (let w = firstWord[i]; w < firstWord[i + 1]; w++) {
            if (tagCategoryKeys[wordTag[w]].includes(state.category)) {
              categoryTally[0] += 1; categoryTally[1] += tagOmitted[wordTag[w]];
            }
          }
        }
      }
    }
    fillSelect(control.run, "all runs", facetOptions(data.runs.map((r, k) => [r, byRun[k]]), (r) => r), state.run);
    fillSelect(control.dataset, "all datasets", facetOptions(data.datasets.map((d, k) => [d, byDataset[k]]), (d) => d),
               state.dataset);
    fillSelect(control.bucket, "all lengths", facetOptions(Array.from(byBucket.entries()), (b) => `${b} tokens`), state.bucket);
    fillSelect(control.category, "any category", categoryKeys.map((key) => {
      const [words, omitted] = categoryWords.get(key), [table, name] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
      return { value: key, label: `${TABLE_LABEL[table]} ${name} (${number.format(words)} words, ${percent(omitted, words)} omitted)`,
               data: { words: words, omitted: omitted } };
    }), state.category);
    for (const name of ["f1min", "f1max", "q"]) if (control[name].value !== state[name]) control[name].value = state[name];

    const f1 = mean(total.f1, total.scored);
    let summary = `${span("s-chunks", total.chunks)} chunks; ROUGE-1 over the ${span("s-scored", total.scored)} scored: ` +
      `precision ${span("s-precision", mean(total.precision, total.scored), fixed(mean(total.precision, total.scored), 3))}, ` +
      `recall ${span("s-recall", mean(total.recall, total.scored), fixed(mean(total.recall, total.scored), 3))}, ` +
      `F1 ${span("s-f1", f1, fixed(f1, 3))}. ${span("s-words", total.words)} reference words, ` +
      `${span("s-omitted", total.omitted)} omitted (${percent(total.omitted, total.words)}).`;
    if (state.category !== "") {
      summary += ` Of the category: ${span("s-category-words", categoryTally[0])} words, ` +
        `${span("s-category-omitted", categoryTally[1])} omitted (${percent(categoryTally[1], categoryTally[0])}).`;
    }
    document.getElementById("summary").innerHTML = summary;
    list.scrollTop = 0;
    drawRows();
    drawDetail();
    document.body.dataset.updateMs = Math.round(performance.now() - started);
  }

  // The list: a spacer as tall as every row, and only the rows in view (and a few around) drawn.
  const list = document.getElementById("chunk-list"), spacer = list.firstElementChild, ROW_HEIGHT = 56, PREVIEW = 240;
  function drawRows() {
    spacer.style.height = shown.length * ROW_HEIGHT + "px";
    const first = Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT) - 5);
    const last = Math.min(shown.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW_HEIGHT) + 5);
    for (const row of list.querySelectorAll(".row")) row.remove();
    const rows = document.createDocumentFragment();
    for (let r = first; r < last; r++) {
      const i = shown[r], row = document.createElement("div");
      row.className = "row" + (C.id[i] === state.chunk ? " selected" : "");
      row.style.top = r * ROW_HEIGHT + "px";
      row.style.height = ROW_HEIGHT + "px";
      row.dataset.id = C.id[i];
      row.innerHTML = `<div class="meta">${escapeHTML(C.id[i])} · ${runLabel(i)}${escapeHTML(data.datasets[C.dataset[i]])} · ` +
        `${C.length[i]} tokens · F1 ${C.f1[i] === null ? "–" : rounded(C.f1[i], 3)} · ` +
        `${omittedInChunk[i]} of ${firstWord[i + 1] - firstWord[i]} words omitted</div>` +
        `<div class="preview">${markedReference(i, PREVIEW)}</div>`;
      rows.appendChild(row);
    }
    list.appendChild(rows);
  }
  let drawPending = false;
  list.addEventListener("scroll", () => {
    if (drawPending) return;
    drawPending = true;
    window.requestAnimationFrame(() => { drawPending = false; drawRows(); });
  });
  list.addEventListener("click", (event) => {
    const row = event.target.closest(".row");
    if (row !== null) { state.chunk = row.dataset.id; writeAddress(); drawRows(); drawDetail(); }
  });

  function runLabel(i) { return data.runs.length < 2 ? "" : escapeHTML(data.runs[C.run[i]]) + " · "; }

  // The reference with each word in a span (omitted or kept; outlined when of the chosen category), up to `limit`.
  function markedReference(i, limit) {
    const text = C.reference[i];
    // Not between the two halves of a surrogate pair.
    if (limit < text.length && /[\uD800-\uDBFF]/.test(text[limit - 1])) limit -= 1;
    let html = "", at = 0;
    for (let w = firstWord[i]; w < firstWord[i + 1] && wordStart[w] < limit; w++) {
      const tag = wordTag[w], keys = tagCategoryKeys[tag];
      html += escapeHTML(text.slice(at, wordStart[w]));
      const title = keys.map((key) => TABLE_LABEL[key.slice(0, key.indexOf(":"))] + " " + key.slice(key.indexOf(":") + 1)).join(" · ");
      html += `<span class="w ${tagOmitted[tag] ? "omitted" : "kept"}${keys.includes(state.category) ? " in-category" : ""}"` +
        ` title="${escapeHTML(title)}">${escapeHTML(text.slice(wordStart[w], wordEnd[w]))}</span>`;
      at = wordEnd[w];
    }
    return html + escapeHTML(text.slice(at, limit));
  }

  function drawDetail() {
    const detail = document.getElementById("chunk-detail"), i = idIndex.get(state.chunk);
    if (i === undefined) { detail.innerHTML = ""; return; }
    const words = firstWord[i + 1] - firstWord[i];
    detail.innerHTML = `<h3>${escapeHTML(C.id[i])}</h3>` +
      `<p>${runLabel(i)}${escapeHTML(data.datasets[C.dataset[i]])}, ${C.length[i]} tokens (length ${C.bucket[i]}); ROUGE-1 precision ` +
      `${rounded(C.precision[i], 3)}, recall ${rounded(C.recall[i], 3)}, F1 ${C.f1[i] === null ? "– (not scored)" : rounded(C.f1[i], 3)}; ` +
      `${omittedInChunk[i]} of ${words} reference words omitted.</p>` +
      `<div class="pair"><div><h4>Reference</h4><pre id="detail-reference">${markedReference(i, Infinity)}</pre></div>` +
      `<div><h4>Reconstruction</h4><pre id="detail-reconstruction">${escapeHTML(C.reconstruction[i])}</pre></div></div>`;
  }

  // The address's filters; a value that is none of the choices (an unknown dataset, a bound that is not a
  // number) is dropped.
  function readAddress() {
    const fields = new URLSearchParams(window.location.hash.slice(1));
    for (const name of Object.keys(state)) state[name] = fields.get(name) || "";
    const known = { run: data.runs, dataset: data.datasets, bucket: buckets.map(String), category: categoryKeys };
    for (const [name, values] of Object.entries(known)) if (!values.includes(state[name])) state[name] = "";
    for (const name of ["f1min", "f1max"]) if (state[name] !== "" && !Number.isFinite(Number(state[name]))) state[name] = "";
    if (!idIndex.has(state.chunk)) state.chunk = "";
  }
  function writeAddress() {
    const fields = new URLSearchParams();
    for (const [name, value] of Object.entries(state)) if (value !== "") fields.set(name, value);
    window.history.replaceState(null, "", "#" + fields.toString());
  }
  // The search waits for a pause in typing; any other change takes the text typed so far with it.
  let typing = 0;
  function takeSearch() { clearTimeout(typing); typing = 0; state.q = control.q.value; }
  for (const name of FILTERS) {
    const apply = () => { takeSearch(); state[name] = control[name].value; writeAddress(); update(); };
    if (name === "q") control[name].addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(apply, 150); });
    else control[name].addEventListener("change", apply);
  }
  // Links to plain anchors (#chunks) leave the filters as they are; an address with filters replaces them.
  window.addEventListener("hashchange", () => {
    if (window.location.hash.includes("=")) { clearTimeout(typing); typing = 0; readAddress(); update(); }
  });

  readAddress();
  update();
  if (state.chunk !== "") document.getElementById("chunk-detail").scrollIntoView();
  // For Benchmarks/report_page.py: when the page was ready, and how long the last filtering took.
  document.body.dataset.readyMs = Math.round(performance.now());
})();
