// chainrule playground: the page asks the server for steps and draws what comes back.
// Every number shown (losses, δ, ∂C/∂W, the equations) is computed by chainrule on the
// server; this file only keeps the page's state and draws.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const FIELDS = [
    "dataset", "noise", "seed", "init", "bias", "constant_input", "layers",
    "activation", "loss", "optimizer", "lr", "schedule", "batch_size", "l2",
  ];
  const SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹";
  const PLAY_ICON = '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path d="M8 5l11 7-11 7z" fill="currentColor"/></svg>';
  const PAUSE_ICON = '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><rect x="6" y="5" width="4" height="14" rx="1" fill="currentColor"/><rect x="14" y="5" width="4" height="14" rx="1" fill="currentColor"/></svg>';
  const NEG = [232, 135, 30];
  const POS = [31, 119, 180];

  const state = {
    session: newSessionId(),
    options: null,
    snapshot: null, // the last snapshot drawn
    points: null, // {train: [[x1, x2, label]...], test}
    csv: "",
    ready: false, // the server holds a session built from the settings on the page
    playing: false,
    loop: null, // the play loop's promise
    generation: 0, // bumped by each reset: answers for an older session are dropped
    stepwise: false,
    explain: null, // the step taken apart, from /api/explain
    before: null, // the snapshot before that step
    phase: -1,
  };
  window.playground = state; // for the browser tests, and for the curious

  function newSessionId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "tab-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
  }

  // ---- talking to the server ---------------------------------------------------------------

  class ServerError extends Error {
    constructor(message, field, diverged) {
      super(message);
      this.field = field;
      this.diverged = Boolean(diverged);
    }
  }

  async function api(path, body) {
    const url = `${path}${path.includes("?") ? "&" : "?"}session=${encodeURIComponent(state.session)}`;
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body ?? {}),
      });
    } catch (error) {
      throw new ServerError("The playground's server does not answer: was it stopped? Start it again with chainrule playground.");
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch (error) {
      payload = null;
    }
    if (!response.ok) {
      const message = payload && payload.error ? payload.error : `${response.status} ${response.statusText}`;
      throw new ServerError(message, payload && payload.field, payload && payload.diverged);
    }
    return payload;
  }

  // ---- messages ----------------------------------------------------------------------------

  function showMessage(error) {
    $("message-text").textContent = error.message || String(error);
    $("message").hidden = false;
    $("message").classList.toggle("warning", Boolean(error.warning));
    document.querySelectorAll(".invalid").forEach((element) => element.classList.remove("invalid"));
    const field = error.field && $(error.field);
    if (field) field.classList.add("invalid");
  }

  function clearMessage() {
    $("message").hidden = true;
    document.querySelectorAll(".invalid").forEach((element) => element.classList.remove("invalid"));
  }

  // ---- settings ------------------------------------------------------------------------------

  function fillSelect(id, choices) {
    const select = $(id);
    select.innerHTML = "";
    for (const [value, text] of Object.entries(choices)) {
      select.append(new Option(text, value));
    }
  }

  function applyConfig(config) {
    for (const name of FIELDS) {
      if (!(name in config)) continue;
      const field = $(name);
      if (field.type === "checkbox") field.checked = Boolean(config[name]);
      else field.value = String(config[name]);
    }
    showNoise();
    showDataKind();
  }

  function readConfig() {
    const config = {};
    for (const name of FIELDS) {
      const field = $(name);
      if (field.type === "checkbox") config[name] = field.checked;
      else if (name === "noise") config[name] = Number(field.value);
      else config[name] = field.value;
    }
    if (config.dataset === "csv") config.csv = state.csv;
    return config;
  }

  function showNoise() {
    $("noise-value").textContent = Number($("noise").value).toFixed(2);
  }

  function showDataKind() {
    const csv = $("dataset").value === "csv";
    document.querySelector(".panel.data").classList.toggle("csv", csv);
    $("noise").disabled = csv;
  }

  // ---- the session: reset, play, step --------------------------------------------------------

  async function reset() {
    await stopPlaying();
    endExplain();
    const generation = (state.generation += 1);
    try {
      const snapshot = await api("/api/reset", { config: readConfig() });
      // A setting changed while the server answered: that change's own reset (or message)
      // is the one to show, not this older answer.
      if (generation !== state.generation) return;
      clearMessage();
      state.points = snapshot.data;
      state.ready = true;
      draw(snapshot);
    } catch (error) {
      if (generation !== state.generation) return;
      state.ready = false;
      showMessage(error);
    }
    updateButtons();
  }

  async function stopPlaying() {
    state.playing = false;
    if (state.loop) await state.loop;
    state.loop = null;
  }

  function play() {
    if (state.playing || !state.ready || state.stepwise) return;
    state.playing = true;
    updateButtons();
    state.loop = playLoop(state.generation);
  }

  async function playLoop(generation) {
    while (state.playing && generation === state.generation) {
      const ok = await takeSteps(Number($("speed").value));
      if (!ok) state.playing = false;
    }
    updateButtons();
  }

  async function takeSteps(count) {
    const generation = state.generation;
    try {
      const snapshot = await api(`/api/step?n=${count}`);
      if (generation === state.generation) draw(snapshot);
      return true;
    } catch (error) {
      if (error.diverged) state.ready = false;
      showMessage(error);
      return false;
    }
  }

  async function pause() {
    await stopPlaying();
    updateButtons();
  }

  function updateButtons() {
    const play = $("play");
    play.innerHTML = state.playing ? PAUSE_ICON : PLAY_ICON;
    play.setAttribute("aria-label", state.playing ? "Pause" : "Play");
    play.disabled = !state.ready || state.stepwise;
    document.querySelector("main").classList.toggle("stale", !state.ready);
    $("step").disabled = !state.ready || state.playing || state.stepwise;
    $("next").disabled = !state.ready;
    $("stepwise").setAttribute("aria-pressed", String(state.stepwise));
  }

  // ---- drawing a snapshot --------------------------------------------------------------------

  function draw(snapshot) {
    state.snapshot = snapshot;
    if (snapshot.warning) showMessage({ message: snapshot.warning, field: "lr", warning: true });
    $("step-count").textContent = snapshot.step.toLocaleString("en");
    $("lr-now").textContent = format(snapshot.lr);
    setNumber("train-loss", snapshot.loss.train);
    setNumber("test-loss", snapshot.loss.test);
    $("train-acc").textContent = percent(snapshot.accuracy.train);
    $("test-acc").textContent = percent(snapshot.accuracy.test);
    drawLossCurve(snapshot.history);
    drawBoundary(snapshot);
    drawNetwork(snapshot.network, snapshot.backward, {});
    const counts = state.points ? state.points.train.length : 0;
    const tests = state.points && state.points.test ? state.points.test.length : 0;
    const note = state.options.dataset_notes[snapshot.config.dataset] || "";
    $("data-note").textContent = `${note} ${counts} training points${tests ? `, ${tests} test points` : ", no test set"};`
      + " orange: label 0, blue: label 1.";
  }

  function setNumber(id, value) {
    const element = $(id);
    element.textContent = value === null || value === undefined ? "–" : format(value);
    element.dataset.value = value === null || value === undefined ? "" : String(value);
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
  }

  function format(value) {
    if (value === null || value === undefined) return "NaN";
    const size = Math.abs(value);
    if (size !== 0 && (size < 1e-3 || size >= 1e5)) return value.toExponential(2);
    return Number(value.toPrecision(4)).toString();
  }

  function colour(t, strength = 1) {
    // t in [-1, 1]: orange below 0, white at 0, blue above.
    const clipped = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
    const target = clipped < 0 ? NEG : POS;
    const mix = Math.abs(clipped) * strength;
    return target.map((c) => Math.round(255 + (c - 255) * mix));
  }

  function rgb(values, alpha = 1) {
    return `rgba(${values[0]}, ${values[1]}, ${values[2]}, ${alpha})`;
  }

  function prepareCanvas(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    if (canvas.width !== width * ratio) {
      canvas.width = width * ratio;
      canvas.height = height * ratio;
    }
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    return { context, width, height };
  }

  function paintGrid(canvas, values, size, scale, strength) {
    // A size×size map (row 0 at the top) stretched over the canvas, smoothed.
    const cells = document.createElement("canvas");
    cells.width = size;
    cells.height = size;
    const cellContext = cells.getContext("2d");
    const image = cellContext.createImageData(size, size);
    values.forEach((value, i) => {
      const c = colour(value === null ? 0 : scale(value), strength);
      image.data.set([c[0], c[1], c[2], 255], 4 * i);
    });
    cellContext.putImageData(image, 0, 0);
    const { context, width, height } = prepareCanvas(canvas);
    context.imageSmoothingEnabled = true;
    context.drawImage(cells, 0, 0, width, height);
    return { context, width, height };
  }

  function drawBoundary(snapshot) {
    const canvas = $("boundary");
    const grid = snapshot.boundary;
    const { context, width, height } = paintGrid(canvas, grid.values, grid.size, (p) => 2 * p - 1, 0.7);
    const [xMin, xMax, yMin, yMax] = snapshot.bounds;
    const px = (x) => ((x - xMin) / (xMax - xMin)) * width;
    const py = (y) => ((yMax - y) / (yMax - yMin)) * height;
    context.strokeStyle = "rgba(29, 36, 51, 0.18)";
    context.lineWidth = 1;
    if (xMin < 0 && xMax > 0) line(context, px(0), 0, px(0), height);
    if (yMin < 0 && yMax > 0) line(context, 0, py(0), width, py(0));
    if (!state.points) return;
    const sets = [[state.points.train, false]];
    if ($("show-test").checked && state.points.test) sets.push([state.points.test, true]);
    const radius = state.points.train.length > 50 ? 3.2 : 6;
    for (const [points, test] of sets) {
      for (const [x, y, label] of points) {
        context.beginPath();
        context.arc(px(x), py(y), radius, 0, 2 * Math.PI);
        context.fillStyle = rgb(label > 0.5 ? POS : NEG);
        context.fill();
        context.lineWidth = test ? 1.6 : 1;
        context.strokeStyle = test ? "#1d2433" : "#ffffff";
        context.stroke();
      }
    }
    context.fillStyle = "rgba(29, 36, 51, 0.55)";
    context.font = "10px system-ui, sans-serif";
    context.fillText(format(xMin), 4, height - 4);
    const right = format(xMax);
    context.fillText(right, width - 4 - context.measureText(right).width, height - 4);
    context.fillText(format(yMax), 4, 12);
  }

  function line(context, x0, y0, x1, y1) {
    context.beginPath();
    context.moveTo(x0, y0);
    context.lineTo(x1, y1);
    context.stroke();
  }

  function drawLossCurve(history) {
    const { context, width, height } = prepareCanvas($("loss-curve"));
    const pad = { left: 34, right: 6, top: 8, bottom: 16 };
    const values = history.train.concat(history.test).filter((v) => v !== null);
    const top = Math.max(1e-12, ...values) * 1.05;
    const last = history.step[history.step.length - 1] || 0;
    const px = (step) => pad.left + (step / Math.max(last, 1)) * (width - pad.left - pad.right);
    const py = (v) => pad.top + (1 - v / top) * (height - pad.top - pad.bottom);
    context.strokeStyle = "#dde2ea";
    context.lineWidth = 1;
    line(context, pad.left, py(0), width - pad.right, py(0));
    line(context, pad.left, pad.top, pad.left, py(0));
    context.fillStyle = "#5f6b7a";
    context.font = "10px system-ui, sans-serif";
    context.fillText(format(top), 2, pad.top + 8);
    context.fillText("0", pad.left - 10, py(0) + 3);
    context.fillText(`step ${last.toLocaleString("en")}`, width - 70, height - 3);
    const series = [
      [history.train, "#1d2433", []],
      [history.test, "#8a94a6", [4, 3]],
    ];
    for (const [ys, stroke, dash] of series) {
      context.beginPath();
      context.setLineDash(dash);
      context.strokeStyle = stroke;
      context.lineWidth = 1.6;
      let started = false;
      ys.forEach((v, i) => {
        if (v === null) return;
        const x = px(history.step[i]);
        if (started) context.lineTo(x, py(v));
        else context.moveTo(x, py(v));
        started = true;
      });
      context.stroke();
    }
    context.setLineDash([]);
    context.fillStyle = "#1d2433";
    context.fillText("train", pad.left + 6, height - 3);
    context.fillStyle = "#8a94a6";
    context.fillText("- - test", pad.left + 38, height - 3);
  }

  // ---- the network diagram -------------------------------------------------------------------

  function drawNetwork(network, backward, options) {
    const diagram = $("diagram");
    diagram.innerHTML = "";
    const columns = [network.inputs.length, ...network.layers.map((layer) => layer.width)];
    const tallest = Math.max(...columns);
    diagram.style.height = `${Math.max(250, Math.min(560, 60 + tallest * 58))}px`;
    const width = diagram.clientWidth;
    const height = diagram.clientHeight;
    const gap = Math.min(58, (height - 60) / tallest);
    const node = Math.min(40, Math.floor(gap - 6));
    const left = 46;
    const right = width - node - 44;
    const xOf = (c) => left + (c * (right - left)) / (columns.length - 1);
    const yOf = (c, j) => 40 + (height - 40 - columns[c] * gap) / 2 + j * gap + (gap - node) / 2;

    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    diagram.append(svg);

    const showGradient = document.querySelector('input[name="edges"]:checked').value === "grad";
    const gradients = backward ? backward.layers : null;
    const edgeValue = (l, j, i) => {
      if (!showGradient) return network.layers[l].weight[j][i];
      return gradients ? gradients[l].grad_weight[j][i] : null;
    };
    let largest = 1e-12;
    network.layers.forEach((layer, l) => layer.weight.forEach((row, j) => row.forEach((_, i) => {
      const v = edgeValue(l, j, i);
      if (v !== null) largest = Math.max(largest, Math.abs(v));
    })));

    network.layers.forEach((layer, l) => {
      layer.weight.forEach((row, j) => row.forEach((w, i) => {
        const v = edgeValue(l, j, i);
        const x0 = xOf(l) + node;
        const y0 = yOf(l, i) + node / 2;
        const x1 = xOf(l + 1);
        const y1 = yOf(l + 1, j) + node / 2;
        const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
        const bend = (x1 - x0) / 2;
        path.setAttribute("d", `M${x0},${y0} C${x0 + bend},${y0} ${x1 - bend},${y1} ${x1},${y1}`);
        const size = v === null ? 0 : Math.abs(v) / largest;
        path.setAttribute("stroke", v === null ? "#c9cfd9" : rgb(v < 0 ? NEG : POS, 0.25 + 0.75 * size));
        path.setAttribute("stroke-width", String(0.6 + 5.4 * size));
        path.setAttribute("fill", "none");
        path.classList.add("edge");
        path.dataset.layer = String(l + 1);
        path.dataset.from = String(i);
        path.dataset.to = String(j);
        const grad = gradients ? gradients[l].grad_weight[j][i] : null;
        hover(path, () => `W${sup(l + 1)}[${j + 1},${i + 1}] = ${format(w)}\n∂C/∂W = ${grad === null ? "–" : format(grad)}`);
        svg.append(path);
      }));
    });

    // δ rings: one scale for the whole network, so that vanishing δs look small.
    let deltaScale = 1e-12;
    if (backward) {
      backward.layers.forEach((layer, l) => {
        if (options.deltaFrom === undefined || l + 1 >= options.deltaFrom) {
          layer.delta_sum.forEach((d) => { if (d !== null) deltaScale = Math.max(deltaScale, Math.abs(d)); });
        }
      });
    }

    columns.forEach((count, c) => {
      const title = document.createElement("div");
      title.className = "layer-label";
      title.style.left = `${xOf(c) + node / 2}px`;
      title.style.top = "4px";
      if (c === 0) title.textContent = "input";
      else {
        const layer = network.layers[c - 1];
        const kind = layer.activation === "none" ? "linear" : layer.activation;
        title.textContent = c === columns.length - 1 ? `output · ${kind}` : `layer ${c} · ${count} ${kind}`;
      }
      diagram.append(title);
      for (let j = 0; j < count; j += 1) {
        const box = document.createElement("div");
        box.className = c === 0 ? "node input" : "node";
        box.style.left = `${xOf(c)}px`;
        box.style.top = `${yOf(c, j)}px`;
        box.style.width = `${node}px`;
        box.style.height = `${node}px`;
        box.dataset.layer = String(c);
        box.dataset.neuron = String(j);
        const canvas = document.createElement("canvas");
        box.append(canvas);
        diagram.append(box);
        if (c === 0) {
          paintInput(canvas, network.inputs[j], network.grid);
          const label = document.createElement("div");
          label.className = "node-label";
          label.textContent = network.inputs[j];
          label.style.left = `${xOf(c) - 16}px`;
          label.style.top = `${yOf(c, j) + node / 2 - 8}px`;
          diagram.append(label);
          hover(box, () => `input ${network.inputs[j]}`);
          continue;
        }
        const layer = network.layers[c - 1];
        const scale = mapScale(layer);
        paintGrid(canvas, layer.maps[j], network.grid, (v) => v / scale, 0.9);
        const showDelta = backward && (options.deltaFrom === undefined || c >= options.deltaFrom);
        const delta = showDelta ? backward.layers[c - 1].delta_sum[j] : null;
        if (delta !== null && delta !== undefined) {
          const ring = 1 + 6 * Math.abs(delta) / deltaScale;
          box.style.boxShadow = `0 0 0 ${ring.toFixed(1)}px ${rgb(delta < 0 ? NEG : POS, 0.9)}`;
          box.dataset.delta = String(delta);
        }
        if (options.highlight === c) box.classList.add("active");
        hover(box, () => {
          const bias = layer.bias ? format(layer.bias[j]) : "none";
          const deltaText = delta === null || delta === undefined ? "–" : format(delta);
          return `layer ${c}, neuron ${j + 1} (${layer.activation})\nbias b = ${bias}\nΣₙ δ = ${deltaText}`;
        });
      }
    });
  }

  function mapScale(layer) {
    let largest = 1e-9;
    layer.maps.forEach((values) => values.forEach((v) => { if (v !== null) largest = Math.max(largest, Math.abs(v)); }));
    return largest;
  }

  function paintInput(canvas, name, size) {
    // x₁ grows to the right, x₂ upwards; the constant input is 1 everywhere.
    const values = [];
    for (let row = 0; row < size; row += 1) {
      for (let column = 0; column < size; column += 1) {
        const x = (2 * column + 1) / size - 1;
        const y = 1 - (2 * row + 1) / size;
        values.push(name === "x₁" ? x : name === "x₂" ? y : 1);
      }
    }
    paintGrid(canvas, values, size, (v) => v, name === "1" ? 0.5 : 0.9);
  }

  function hover(element, text) {
    const tooltip = $("tooltip");
    element.addEventListener("mouseenter", () => {
      tooltip.textContent = text();
      tooltip.hidden = false;
    });
    element.addEventListener("mousemove", (event) => {
      const panel = tooltip.parentElement.getBoundingClientRect();
      tooltip.style.left = `${event.clientX - panel.left + 14}px`;
      tooltip.style.top = `${event.clientY - panel.top + 14}px`;
    });
    element.addEventListener("mouseleave", () => { tooltip.hidden = true; });
  }

  function sup(number) {
    return String(number).split("").map((d) => SUPERSCRIPT[Number(d)]).join("");
  }

  // ---- step by step --------------------------------------------------------------------------

  async function toggleStepwise() {
    await pause();
    state.stepwise = !state.stepwise;
    $("explain").hidden = !state.stepwise;
    if (!state.stepwise) endExplain();
    updateButtons();
    if (state.stepwise) $("explain").scrollIntoView({ block: "nearest" });
  }

  function endExplain() {
    if (state.explain && state.phase < phases().length - 1) draw(state.explain.snapshot);
    state.explain = null;
    state.phase = -1;
    $("phases").innerHTML = "";
  }

  function phases() {
    if (!state.explain) return [];
    const list = [{ key: "forward", title: "forward pass" }];
    for (const layer of state.explain.backward) {
      const label = layer.equations[0].label;
      list.push({ key: "delta", layer, title: `δ${sup(layer.number)} (${label})` });
    }
    list.push({ key: "update", title: "update" });
    return list;
  }

  async function next() {
    if (!state.explain || state.phase >= phases().length - 1) {
      try {
        state.before = state.snapshot;
        state.explain = await api("/api/explain");
        clearMessage();
        state.phase = 0;
      } catch (error) {
        if (error.diverged) state.ready = false;
        showMessage(error);
        updateButtons();
        return;
      }
    } else {
      state.phase += 1;
    }
    showPhase();
  }

  function showPhase() {
    const list = phases();
    const current = list[state.phase];
    const items = $("phases");
    items.innerHTML = "";
    list.forEach((phase, i) => {
      const item = document.createElement("li");
      item.textContent = phase.title;
      item.className = i === state.phase ? "current" : i < state.phase ? "done" : "pending";
      item.dataset.phase = phase.key;
      if (i <= state.phase) item.addEventListener("click", () => { state.phase = i; showPhase(); });
      items.append(item);
    });
    $("next").textContent = state.phase === list.length - 1 ? "Next step ▸" : "Next ▸";
    const body = $("phase-body");
    body.innerHTML = "";
    body.dataset.phase = current.key;
    const explain = state.explain;
    const before = state.before || explain.snapshot;
    if (current.key === "update") {
      draw(explain.snapshot);
      body.append(updateView(explain));
    } else if (current.key === "forward") {
      drawNetwork(before.network, null, {});
      body.append(forwardView(explain));
    } else {
      const number = current.layer.number;
      drawNetwork(before.network, explain.snapshot.backward, { deltaFrom: number, highlight: number });
      body.append(deltaView(explain, current.layer));
    }
  }

  function rowsNote(explain) {
    const batch = explain.batch;
    const text = batch.shown < batch.size
      ? `A batch of ${batch.size}; one row per sample, the first ${batch.shown} rows shown.`
      : `A batch of ${batch.size}; one row per sample.`;
    return element("p", "rows-note", text);
  }

  function forwardView(explain) {
    const box = document.createElement("div");
    box.append(element("h3", "", `Step ${explain.step}: the forward pass`));
    box.append(element("p", "convention", "Each layer computes z = a (W)ᵀ + b on the previous layer's output a, then a = σ(z). The loss C compares the output with the target y."));
    box.append(rowsNote(explain));
    const terms = element("div", "terms");
    terms.append(term("x = a⁰ (input)", explain.batch.x));
    for (const layer of explain.forward) {
      terms.append(term(`z${sup(layer.number)}`, layer.z));
      terms.append(term(`a${sup(layer.number)} = ${layer.activation === "none" ? "z" : layer.activation}(z${sup(layer.number)})`, layer.a_out));
    }
    terms.append(term("y (target)", explain.batch.y));
    box.append(terms);
    const loss = element("p", "equation", "");
    loss.innerHTML = `<span class="general"><b>loss</b>C = ${explain.loss_name} = <span data-value="${explain.loss}">${format(explain.loss)}</span></span>`;
    loss.dataset.label = "loss";
    box.append(loss);
    return box;
  }

  function deltaView(explain, layer) {
    const box = document.createElement("div");
    box.append(element("h3", "", layer.heading));
    box.append(element("p", "convention", layer.convention));
    box.append(rowsNote(explain));
    for (const equation of layer.equations) {
      const block = element("div", "equation");
      block.dataset.label = equation.label;
      block.dataset.layer = String(layer.number);
      const general = element("div", "general");
      general.append(element("b", "", equation.label), document.createTextNode(equation.general));
      block.append(general, element("div", "instance", equation.instance));
      const terms = element("div", "terms");
      for (const item of equation.terms) terms.append(term(item.name, item.value));
      if (equation.result) {
        terms.append(element("span", "op", "⇒"));
        const result = term(`${equation.result.name} (autodiff)`, equation.result.value);
        result.classList.add("result");
        terms.append(result);
      }
      block.append(terms);
      if (equation.note) block.append(element("p", "note", equation.note));
      if (equation.check) block.append(element("div", `verdict ${equation.ok ? "ok" : "bad"}`, `the right-hand side computed from these numbers: ${equation.check}`));
      box.append(block);
    }
    return box;
  }

  function updateView(explain) {
    const update = explain.update;
    const box = document.createElement("div");
    box.append(element("h3", "", `Step ${explain.step}: the update`));
    box.append(element("p", "convention", `${$("optimizer").selectedOptions[0].text}: ${update.rule}. The same for each b with ∂C/∂b.`));
    for (const layer of update.layers) {
      const block = element("div", "equation");
      block.dataset.label = "update";
      block.dataset.layer = String(layer.number);
      block.append(element("div", "general", `layer ${layer.number}`));
      const terms = element("div", "terms");
      terms.append(term(`W${sup(layer.number)} before`, layer.weight_before));
      terms.append(term(`∂C/∂W${sup(layer.number)}`, layer.grad_weight));
      const after = term(`W${sup(layer.number)} after`, layer.weight_after);
      after.classList.add("result");
      terms.append(element("span", "op", "⇒"), after);
      if (layer.bias_before) {
        terms.append(term(`b${sup(layer.number)} before`, layer.bias_before));
        terms.append(term(`∂C/∂b${sup(layer.number)}`, layer.grad_bias));
        const biasAfter = term(`b${sup(layer.number)} after`, layer.bias_after);
        biasAfter.classList.add("result");
        terms.append(element("span", "op", "⇒"), biasAfter);
      }
      block.append(terms);
      box.append(block);
    }
    box.append(element("p", "verdict", `Loss on this batch: ${format(update.loss_before)} before the update, ${format(update.loss_after)} after.`));
    return box;
  }

  function term(name, values) {
    const box = element("div", "term");
    box.dataset.name = name;
    box.append(element("span", "name", name), matrix(values));
    return box;
  }

  function matrix(values) {
    const table = element("table", "matrix");
    const rows = Array.isArray(values) ? (Array.isArray(values[0]) ? values : [values]) : [[values]];
    for (const row of rows) {
      const tr = document.createElement("tr");
      for (const value of row) {
        const cell = element("td", "", format(value));
        cell.dataset.value = value === null ? "NaN" : String(value);
        tr.append(cell);
      }
      table.append(tr);
    }
    return table;
  }

  function element(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
  }

  // ---- wiring --------------------------------------------------------------------------------

  function settingChanged() {
    $("preset").value = "custom";
    reset();
  }

  async function choosePreset() {
    const name = $("preset").value;
    if (name === "custom") return;
    applyConfig(state.options.presets[name].config);
    await reset();
  }

  function readCsv() {
    const file = $("csv").files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => {
      state.csv = String(reader.result);
      $("csv-name").textContent = `${file.name}: ${state.csv.split(/\r?\n/).filter((l) => l.trim()).length} lines`;
      settingChanged();
    };
    reader.readAsText(file);
  }

  async function start() {
    updateButtons();
    let options;
    try {
      options = await (await fetch("/api/options")).json();
    } catch (error) {
      showMessage(new ServerError("The playground's server does not answer; start it with chainrule playground."));
      return;
    }
    state.options = options;
    fillSelect("dataset", options.datasets);
    fillSelect("activation", options.activations);
    fillSelect("loss", options.losses);
    fillSelect("optimizer", options.optimizers);
    fillSelect("schedule", options.schedules);
    fillSelect("init", options.inits);
    const presets = { custom: "custom settings" };
    for (const [name, preset] of Object.entries(options.presets)) presets[name] = preset.title;
    fillSelect("preset", presets);
    $("preset").value = "xor";
    applyConfig(options.presets.xor.config);

    for (const name of FIELDS) {
      $(name).addEventListener("change", () => {
        if (name === "dataset") showDataKind();
        if (name === "dataset" && $(name).value === "csv" && !state.csv) {
          state.generation += 1; // a reset still waiting on the server is stale now
          state.ready = false;
          updateButtons();
          showMessage(new ServerError("Choose a CSV file: rows of x1, x2, label (0 or 1).", "csv"));
          return;
        }
        settingChanged();
      });
    }
    $("noise").addEventListener("input", showNoise);
    $("csv").addEventListener("change", readCsv);
    $("preset").addEventListener("change", choosePreset);
    $("reset").addEventListener("click", reset);
    $("play").addEventListener("click", () => (state.playing ? pause() : play()));
    $("step").addEventListener("click", () => { if (state.ready && !state.playing) takeSteps(1); });
    $("stepwise").addEventListener("click", toggleStepwise);
    $("next").addEventListener("click", next);
    $("message-close").addEventListener("click", clearMessage);
    $("show-test").addEventListener("change", () => state.snapshot && drawBoundary(state.snapshot));
    document.querySelectorAll('input[name="edges"]').forEach((radio) => radio.addEventListener("change", () => {
      if (state.explain && state.phase >= 0) showPhase();
      else if (state.snapshot) drawNetwork(state.snapshot.network, state.snapshot.backward, {});
    }));
    window.addEventListener("resize", () => state.snapshot && draw(state.snapshot));
    await reset();
  }

  start();
})();
