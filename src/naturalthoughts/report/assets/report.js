// The report's trace browser: filters a compact column-wise index of every trace, shows one page of the result,
// and loads the texts of the traces on screen from chunks (inlined JSON, or report_data/*.js scripts beside the
// page; file:// pages may load scripts but not fetch files). Data is only ever put in the page as text
// (textContent), never as HTML.
(function () {
  "use strict";
  const indexElement = document.getElementById("nt-index");
  if (!indexElement) return;
  const INDEX = JSON.parse(indexElement.textContent);
  const N = INDEX.n;
  const C = INDEX.cols;
  const dom = Int32Array.from(C.dom);
  const strat = Float64Array.from(C.strat); // bit masks up to 2^52 (-1: not annotated)
  const rt = Float64Array.from(C.rt);
  const at = Float64Array.from(C.at);
  const fin = Int32Array.from(C.fin);
  const cor = C.cor, dis = C.dis, cmp = C.cmp; // one character per trace: "1" | "0" | "-"
  const selectionNames = Object.keys(INDEX.selections);
  const $ = (id) => document.getElementById(id);

  // ---- selections: membership arrays, built once ----------------------------------------------------------
  const inSelection = {};
  const inAny = new Uint8Array(N);
  for (const name of selectionNames) {
    const member = new Int32Array(N).fill(-1); // rank in the selection, or -1
    INDEX.selections[name].forEach((row, rank) => { member[row] = rank; inAny[row] = 1; });
    inSelection[name] = member;
  }

  // ---- chunks ------------------------------------------------------------------------------------------------
  const loaded = {}; // "t-3" -> payload
  const waiting = {}; // "t-3" -> [resolve, ...]
  function warn(message) {
    const box = $("tb-warning");
    box.textContent = message;
    box.hidden = false;
  }
  window.NTReport = {
    register(kind, number, build, payload) {
      const key = kind + "-" + number;
      if (build !== INDEX.build) {
        warn("report_data/ belongs to another build of this report: rebuild it with `nt report --force`.");
        return;
      }
      loaded[key] = payload;
      (waiting[key] || []).forEach((resolve) => resolve(payload));
      delete waiting[key];
    },
  };
  function chunk(kind, number) {
    const key = kind + "-" + number;
    if (loaded[key]) return Promise.resolve(loaded[key]);
    const inline = document.getElementById("nt-chunk-" + key);
    if (inline) {
      loaded[key] = JSON.parse(inline.textContent);
      return Promise.resolve(loaded[key]);
    }
    return new Promise((resolve, reject) => {
      if (waiting[key]) { waiting[key].push(resolve); return; }
      waiting[key] = [resolve];
      const script = document.createElement("script");
      script.src = INDEX.data_dir + "/" + kind + "-" + String(number).padStart(5, "0") + ".js";
      script.onerror = () => {
        warn("could not load " + script.src + ": keep the " + INDEX.data_dir + " folder next to report.html.");
        delete waiting[key];
        reject(new Error(script.src));
      };
      document.head.appendChild(script);
    });
  }
  function textChunkOf(row) { // the last chunk starting at or before row
    const starts = INDEX.text_starts;
    let lo = 0, hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= row) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  // ---- filters -----------------------------------------------------------------------------------------------
  function option(select, value, label) {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    select.appendChild(o);
  }
  function fill(id, values) { const s = $(id); values.forEach(([v, l]) => option(s, v, l)); }
  const any = ["", "any"];
  fill("f-domain", [any, ...INDEX.domains.map((d, i) => [String(i), d]), ["-1", "(no domain)"]]);
  fill("f-strategy", [any, ...INDEX.strategies.map((s, i) => [String(i), s]), ["none", "(no strategy)"],
    ["na", "(not annotated)"]]);
  fill("f-selection", [any, ["in", "in a selection"], ["out", "in no selection"],
    ...selectionNames.map((s) => ["s:" + s, s])]);
  const tri = [any, ["1", "yes"], ["0", "no"], ["-", "unknown"]];
  for (const id of ["f-correct", "f-disagree", "f-complete"]) fill(id, tri);
  fill("f-sort", [["order", "pool order"], ["rt-desc", "longest reasoning"], ["rt-asc", "shortest reasoning"],
    ["rank", "selection rank"]]);

  const state = { page: 0, rows: new Int32Array(0), current: -1 };
  function bit(mask, k) { return mask >= 0 && Math.floor(mask / Math.pow(2, k)) % 2 === 1; }

  function apply() {
    const fd = $("f-domain").value, fs = $("f-strategy").value, fsel = $("f-selection").value;
    const fc = $("f-correct").value, fdis = $("f-disagree").value, fcmp = $("f-complete").value;
    const domain = fd === "" ? null : Number(fd);
    const strategy = fs === "" || fs === "none" || fs === "na" ? null : Number(fs);
    const member = fsel.startsWith("s:") ? inSelection[fsel.slice(2)] : null;
    const out = new Int32Array(N);
    let count = 0;
    for (let r = 0; r < N; r++) {
      if (domain !== null && dom[r] !== domain) continue;
      if (strategy !== null && !bit(strat[r], strategy)) continue;
      if (fs === "none" && strat[r] !== 0) continue;
      if (fs === "na" && strat[r] !== -1) continue;
      if (member && member[r] < 0) continue;
      if (fsel === "in" && !inAny[r]) continue;
      if (fsel === "out" && inAny[r]) continue;
      if (fc && cor[r] !== fc) continue;
      if (fdis && dis[r] !== fdis) continue;
      if (fcmp && cmp[r] !== fcmp) continue;
      out[count++] = r;
    }
    let rows = out.slice(0, count);
    const sort = $("f-sort").value;
    if (sort === "rt-desc") rows.sort((a, b) => rt[b] - rt[a] || a - b);
    else if (sort === "rt-asc") rows.sort((a, b) => rt[a] - rt[b] || a - b);
    else if (sort === "rank" && member) rows.sort((a, b) => member[a] - member[b]);
    state.rows = rows;
    state.page = 0;
    render();
  }

  // ---- the list ----------------------------------------------------------------------------------------------
  function td(tr, text, cls) {
    const cell = document.createElement("td");
    cell.textContent = text;
    if (cls) cell.className = cls;
    tr.appendChild(cell);
    return cell;
  }
  const flagText = { "1": "yes", "0": "no", "-": "–" };
  function strategiesOf(r) {
    if (strat[r] < 0) return "–";
    const names = [];
    INDEX.strategies.forEach((s, k) => { if (bit(strat[r], k)) names.push(s); });
    return names.length ? names.join(", ") : "none";
  }
  function render() {
    const size = INDEX.page_size;
    const pages = Math.max(1, Math.ceil(state.rows.length / size));
    state.page = Math.min(state.page, pages - 1);
    const first = state.page * size;
    const rows = state.rows.subarray(first, first + size);
    $("tb-count").textContent = state.rows.length.toLocaleString("en") + " of " + N.toLocaleString("en") +
      " traces";
    $("tb-page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("tb-prev").disabled = state.page === 0;
    $("tb-next").disabled = state.page >= pages - 1;
    const body = $("tb-rows");
    body.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement("tr");
      tr.tabIndex = 0;
      tr.dataset.row = String(r);
      if (r === state.current) tr.className = "current";
      td(tr, String(r + 1), "num");
      const q = td(tr, "…", "question");
      td(tr, dom[r] >= 0 ? INDEX.domains[dom[r]] : "–");
      td(tr, strategiesOf(r), "strategies").title = strategiesOf(r);
      td(tr, rt[r] >= 0 ? rt[r].toLocaleString("en") : "–", "num");
      td(tr, flagText[cor[r]]);
      td(tr, flagText[dis[r]]);
      td(tr, flagText[cmp[r]]);
      const number = Math.floor(r / INDEX.preview_rows);
      chunk("p", number).then((previews) => {
        q.textContent = previews[r - number * INDEX.preview_rows][1];
        q.title = q.textContent;
      }, () => { q.textContent = "(text not available)"; });
      tr.addEventListener("click", () => show(r));
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") show(r); });
      body.appendChild(tr);
    }
    $("tb-empty").hidden = state.rows.length > 0;
  }

  // ---- one trace ---------------------------------------------------------------------------------------------
  function element(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function block(parent, title, text) {
    if (text === null || text === undefined || text === "") return;
    parent.appendChild(element("h4", title));
    parent.appendChild(element("pre", String(text)));
  }
  function facts(parent, pairs) {
    const dl = element("dl", null, "facts");
    for (const [k, v] of pairs) {
      if (v === null || v === undefined || v === "") continue;
      dl.appendChild(element("dt", k));
      dl.appendChild(element("dd", String(v)));
    }
    parent.appendChild(dl);
  }
  function show(r) {
    state.current = r;
    for (const tr of $("tb-rows").children) tr.classList.toggle("current", Number(tr.dataset.row) === r);
    const box = $("tb-detail");
    box.replaceChildren(element("p", "loading trace " + (r + 1) + " …", "note"));
    const number = textChunkOf(r);
    chunk("t", number).then((payload) => {
      const values = payload.rows[r - INDEX.text_starts[number]];
      const t = {};
      payload.cols.forEach((name, i) => { t[name] = values[i]; });
      box.replaceChildren();
      box.appendChild(element("h3", "Trace " + (r + 1) + " · " + t.trace_id));
      const sels = selectionNames.filter((s) => inSelection[s][r] >= 0)
        .map((s) => s + " (rank " + inSelection[s][r] + ")");
      facts(box, [
        ["question id", t.question_id], ["teacher", t.teacher], ["sample", t.sample], ["source", t.source],
        ["domain", dom[r] >= 0 ? INDEX.domains[dom[r]] : null], ["field", t.field],
        ["domain by", t.domain_method], ["finish reason", t.finish_reason], ["complete", flagText[cmp[r]]],
        ["reasoning tokens", rt[r] >= 0 ? rt[r] : null], ["answer tokens", at[r] >= 0 ? at[r] : null],
        ["tokenizer", t.tokenizer], ["prompt tokens", t.prompt_tokens], ["latency (s)", t.latency_s],
        ["correct", flagText[cor[r]] + (t.correct_method ? " (" + t.correct_method + ")" : "")],
        ["models disagree", flagText[dis[r]] + (t.disagree_judge ? " (judge " + t.disagree_judge + ")" : "")],
        ["judge said", t.disagree_raw], ["verbosity", t.verbosity], ["verbosity by", t.verbosity_method],
        ["strategy density", t.strategy_density], ["strategies by", t.strategies_method],
        ["selections", sels.length ? sels.join(", ") : "none"], ["error", t.error],
        ["annotation errors", ["domain", "strategies", "verbosity", "correct", "disagree"]
          .filter((k) => t[k + "_error"]).map((k) => k + ": " + t[k + "_error"]).join("; ")],
      ]);
      if (t.strategy_counts && t.strategy_counts.length) {
        const chips = element("div", null, "chips");
        for (const [name, count] of t.strategy_counts) chips.appendChild(element("span", name + " × " + count, "chip"));
        box.appendChild(element("h4", "Strategies"));
        box.appendChild(chips);
      }
      if (t.evals && t.evals.length) {
        box.appendChild(element("h4", "Evaluation records"));
        const table = element("table");
        const head = element("tr");
        for (const h of ["model", "mode", "benchmark", "correct", "tokens", "predicted"]) head.appendChild(element("th", h));
        table.appendChild(head);
        for (const e of t.evals) {
          const tr = element("tr");
          for (const v of e) tr.appendChild(element("td", v === null ? "–" : String(v)));
          table.appendChild(tr);
        }
        box.appendChild(table);
      }
      block(box, "Question", t.question);
      block(box, "Reference answer", t.reference_answer);
      block(box, "Reasoning", t.reasoning);
      block(box, "Answer", t.answer);
      block(box, "Second model's answer" + (t.other_model ? " (" + t.other_model + ")" : ""), t.other_answer);
    }, () => box.replaceChildren(element("p", "the text of this trace is not available", "error")));
  }

  // ---- wiring ------------------------------------------------------------------------------------------------
  for (const id of ["f-domain", "f-strategy", "f-selection", "f-correct", "f-disagree", "f-complete", "f-sort"]) {
    $(id).addEventListener("change", apply);
  }
  $("tb-prev").addEventListener("click", () => { state.page -= 1; render(); });
  $("tb-next").addEventListener("click", () => { state.page += 1; render(); });
  $("tb-reset").addEventListener("click", () => {
    for (const id of ["f-domain", "f-strategy", "f-selection", "f-correct", "f-disagree", "f-complete"]) $(id).value = "";
    $("f-sort").value = "order";
    apply();
  });
  apply();
  document.body.dataset.browserReady = "1";
})();
