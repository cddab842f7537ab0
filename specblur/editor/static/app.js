// specblur edit: the page. Plain JavaScript, no build step, nothing fetched from elsewhere.
// The spectrogram is the model's log-mel image (sent as bytes, one per cell, row 0 the lowest band),
// drawn on a canvas with time and Hz axes; a drag selects a region, which the server snaps to code
// cells (the same snapping as the command line); audio plays through the Web Audio API.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const canvas = $("spec");
const ctx2d = canvas.getContext("2d");
const MARGIN = { left: 64, right: 12, top: 10, bottom: 30 };

const app = {
  state: null,
  images: { before: null, after: null }, // offscreen canvases
  imageVersion: -1,
  view: { t0: 0, t1: 1 },
  selection: null, // {time: [a, b], freq: [lo, hi]}
  snapped: null, // regions from the server, per level (the last is the finest)
  drag: null,
  which: "after",
  busy: false,
};

// -- server ----------------------------------------------------------------------------------------

async function api(path, options = {}) {
  const headers = Object.assign({ "X-Specblur-Token": token }, options.headers || {});
  const init = { method: options.method || "GET", headers };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let message = `${response.status}`;
    try {
      message = (await response.json()).error || message;
    } catch (e) {
      /* not JSON */
    }
    throw new Error(message);
  }
  return response;
}

function status(text, isError = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

function settings() {
  const seed = Number($("seed").value);
  return {
    mode: $("mode").value,
    strength: Number($("strength").value),
    seed: Number.isInteger(seed) && seed >= 0 ? seed : 0,
    scale: $("scale").value,
    prior: $("prior").value || null,
    temperature: Number($("temperature").value) || 1,
  };
}

// -- the picture -----------------------------------------------------------------------------------

function colour(v) {
  // a dark-to-bright ramp (black, purple, orange, pale yellow) for 0..255
  const stops = [
    [0, 0, 0, 4], [64, 60, 15, 110], [128, 180, 55, 120], [192, 250, 140, 40], [255, 252, 253, 191],
  ];
  for (let i = 1; i < stops.length; i++) {
    if (v <= stops[i][0]) {
      const [a, r0, g0, b0] = stops[i - 1];
      const [b, r1, g1, b1] = stops[i];
      const f = (v - a) / (b - a);
      return [r0 + f * (r1 - r0), g0 + f * (g1 - g0), b0 + f * (b1 - b0)];
    }
  }
  return stops[stops.length - 1].slice(1);
}
const PALETTE = Array.from({ length: 256 }, (_, v) => colour(v));

async function loadImage(which) {
  const response = await api(`/api/image?which=${which}`);
  const width = Number(response.headers.get("X-Width"));
  const height = Number(response.headers.get("X-Height"));
  const bytes = new Uint8Array(await response.arrayBuffer());
  const off = document.createElement("canvas");
  off.width = width;
  off.height = height;
  const octx = off.getContext("2d");
  const data = octx.createImageData(width, height);
  for (let row = 0; row < height; row++) {
    const y = height - 1 - row; // row 0 (lowest band) at the bottom
    for (let x = 0; x < width; x++) {
      const [r, g, b] = PALETTE[bytes[row * width + x]];
      const i = (y * width + x) * 4;
      data.data[i] = r;
      data.data[i + 1] = g;
      data.data[i + 2] = b;
      data.data[i + 3] = 255;
    }
  }
  octx.putImageData(data, 0, 0);
  app.images[which] = off;
}

function plotBox() {
  return {
    x: MARGIN.left,
    y: MARGIN.top,
    w: canvas.width - MARGIN.left - MARGIN.right,
    h: canvas.height - MARGIN.top - MARGIN.bottom,
  };
}

function frameSeconds() {
  const m = app.state.model;
  return m.hop / m.sample_rate;
}

// Hz <-> band coordinate (0 at the bottom of band 0, `bands` at the top of the last) through the
// bands' edges, as the server's snapping sees them
function hzToBand(hz) {
  const e = app.state.model.edges;
  if (hz <= e[0]) return 0;
  for (let i = 0; i < e.length - 1; i++) {
    if (hz < e[i + 1]) return i + (hz - e[i]) / (e[i + 1] - e[i]);
  }
  return e.length - 1;
}
function bandToHz(b) {
  const e = app.state.model.edges;
  const i = Math.max(0, Math.min(e.length - 2, Math.floor(b)));
  return e[i] + (b - i) * (e[i + 1] - e[i]);
}

function tToX(t) {
  const p = plotBox();
  return p.x + ((t - app.view.t0) / (app.view.t1 - app.view.t0)) * p.w;
}
function xToT(x) {
  const p = plotBox();
  return app.view.t0 + ((x - p.x) / p.w) * (app.view.t1 - app.view.t0);
}
function hzToY(hz) {
  const p = plotBox();
  return p.y + p.h * (1 - hzToBand(hz) / app.state.model.bands);
}
function yToHz(y) {
  const p = plotBox();
  return bandToHz(((p.y + p.h - y) / p.h) * app.state.model.bands);
}

function niceStep(span, pixels, minPixels) {
  const steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  for (const s of steps) if ((s / span) * pixels >= minPixels) return s;
  return steps[steps.length - 1];
}

function draw() {
  const s = app.state;
  if (!s) return;
  const p = plotBox();
  ctx2d.fillStyle = "#000";
  ctx2d.fillRect(0, 0, canvas.width, canvas.height);
  const image = app.images[app.which];
  if (image) {
    const fs = frameSeconds();
    ctx2d.imageSmoothingEnabled = true;
    ctx2d.drawImage(image, app.view.t0 / fs, 0, (app.view.t1 - app.view.t0) / fs, image.height, p.x, p.y, p.w, p.h);
  }
  // axes
  ctx2d.fillStyle = "#16171b";
  ctx2d.fillRect(0, 0, p.x, canvas.height);
  ctx2d.fillRect(0, p.y + p.h, canvas.width, canvas.height - p.y - p.h);
  ctx2d.strokeStyle = "#666";
  ctx2d.fillStyle = "#bbb";
  ctx2d.font = "11px system-ui, sans-serif";
  ctx2d.textAlign = "right";
  ctx2d.textBaseline = "middle";
  let lastY = Infinity;
  for (const hz of [50, 100, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10000, 12000, 16000, 20000]) {
    if (hz > s.model.f_max) break;
    const y = hzToY(hz);
    if (lastY - y < 16) continue;
    lastY = y;
    ctx2d.beginPath();
    ctx2d.moveTo(p.x - 5, y);
    ctx2d.lineTo(p.x, y);
    ctx2d.stroke();
    ctx2d.fillText(hz >= 1000 ? `${hz / 1000}k` : `${hz}`, p.x - 8, y);
  }
  ctx2d.save();
  ctx2d.translate(12, p.y + p.h / 2);
  ctx2d.rotate(-Math.PI / 2);
  ctx2d.textAlign = "center";
  ctx2d.fillText("Hz", 0, 0);
  ctx2d.restore();
  ctx2d.textAlign = "center";
  ctx2d.textBaseline = "top";
  const step = niceStep(app.view.t1 - app.view.t0, p.w, 70);
  for (let t = Math.ceil(app.view.t0 / step) * step; t <= app.view.t1 + 1e-9; t += step) {
    const x = tToX(t);
    ctx2d.beginPath();
    ctx2d.moveTo(x, p.y + p.h);
    ctx2d.lineTo(x, p.y + p.h + 5);
    ctx2d.stroke();
    const digits = step < 0.01 ? 3 : step < 0.1 ? 2 : step < 1 ? 1 : 0;
    ctx2d.fillText(`${t.toFixed(digits)} s`, x, p.y + p.h + 8);
  }
  // the selection: as dragged (thin), and snapped to code cells (solid)
  ctx2d.save();
  ctx2d.beginPath();
  ctx2d.rect(p.x, p.y, p.w, p.h);
  ctx2d.clip();
  if (app.selection) {
    const [a, b] = app.selection.time;
    const [lo, hi] = app.selection.freq;
    ctx2d.setLineDash([4, 4]);
    ctx2d.strokeStyle = "rgba(255,255,255,0.7)";
    ctx2d.strokeRect(tToX(a), hzToY(hi), tToX(b) - tToX(a), hzToY(lo) - hzToY(hi));
    ctx2d.setLineDash([]);
  }
  if (app.snapped && app.selection && !app.drag) {
    const r = app.snapped[app.snapped.length - 1];
    const fs = frameSeconds();
    const bands = s.model.bands;
    const x0 = tToX(r.frames[0] * fs);
    const x1 = tToX(r.frames[1] * fs);
    const y0 = p.y + p.h * (1 - r.bins[1] / bands);
    const y1 = p.y + p.h * (1 - r.bins[0] / bands);
    ctx2d.fillStyle = "rgba(111,195,255,0.12)";
    ctx2d.fillRect(x0, y0, x1 - x0, y1 - y0);
    ctx2d.strokeStyle = "#6fc3ff";
    ctx2d.lineWidth = 2;
    ctx2d.strokeRect(x0, y0, x1 - x0, y1 - y0);
    // the cell grid inside, so the snapping is visible
    const [fb, tb] = s.model.cells[r.level];
    ctx2d.lineWidth = 1;
    ctx2d.strokeStyle = "rgba(111,195,255,0.25)";
    for (let f = r.frames[0] + tb; f < r.frames[1]; f += tb) {
      ctx2d.beginPath();
      ctx2d.moveTo(tToX(f * fs), y0);
      ctx2d.lineTo(tToX(f * fs), y1);
      ctx2d.stroke();
    }
    for (let b = r.bins[0] + fb; b < r.bins[1]; b += fb) {
      const y = p.y + p.h * (1 - b / bands);
      ctx2d.beginPath();
      ctx2d.moveTo(x0, y);
      ctx2d.lineTo(x1, y);
      ctx2d.stroke();
    }
  }
  // the playhead
  const at = player.position();
  if (at !== null && at >= app.view.t0 && at <= app.view.t1) {
    ctx2d.strokeStyle = "#fff";
    ctx2d.lineWidth = 1;
    ctx2d.beginPath();
    ctx2d.moveTo(tToX(at), p.y);
    ctx2d.lineTo(tToX(at), p.y + p.h);
    ctx2d.stroke();
  }
  ctx2d.restore();
  ctx2d.fillStyle = "#bbb";
  ctx2d.textAlign = "left";
  ctx2d.textBaseline = "top";
  ctx2d.fillText(app.which === "before" ? "A: before" : "B: after", p.x + 6, p.y + 4);
}

// -- selecting -------------------------------------------------------------------------------------

function eventPoint(event) {
  const rect = canvas.getBoundingClientRect();
  const x = ((event.clientX - rect.left) / rect.width) * canvas.width;
  const y = ((event.clientY - rect.top) / rect.height) * canvas.height;
  const p = plotBox();
  const cx = Math.max(p.x, Math.min(p.x + p.w, x));
  const cy = Math.max(p.y, Math.min(p.y + p.h, y));
  return { x: cx, y: cy, inside: x >= p.x && x <= p.x + p.w && y >= p.y && y <= p.y + p.h };
}

function round(value, places) {
  const f = 10 ** places;
  return Math.round(value * f) / f;
}

canvas.addEventListener("mousedown", (event) => {
  if (!app.state) return;
  const pt = eventPoint(event);
  if (!pt.inside) return;
  app.drag = { x: pt.x, y: pt.y };
  app.snapped = null;
  event.preventDefault();
});

window.addEventListener("mousemove", (event) => {
  if (!app.drag) return;
  const pt = eventPoint(event);
  const s = app.state;
  const a = Math.max(0, Math.min(xToT(app.drag.x), xToT(pt.x)));
  const b = Math.min(s.seconds, Math.max(xToT(app.drag.x), xToT(pt.x)));
  const lo = Math.max(0, Math.min(yToHz(app.drag.y), yToHz(pt.y)));
  const hi = Math.min(s.model.top_hz, Math.max(yToHz(app.drag.y), yToHz(pt.y)));
  // milliseconds and whole Hz: finer than a code cell (64 ms x one mel band), and a readable command line
  app.selection = { time: [round(a, 3), round(b, 3)], freq: [Math.round(lo), Math.round(hi)] };
  draw();
});

window.addEventListener("mouseup", async () => {
  if (!app.drag) return;
  app.drag = null;
  const sel = app.selection;
  if (!sel || sel.time[1] - sel.time[0] <= 0 || sel.freq[1] - sel.freq[0] <= 0) {
    app.selection = null;
    updateSelection();
    draw();
    return;
  }
  await snap();
});

async function snap() {
  const sel = app.selection;
  if (!sel) return;
  try {
    const response = await api("/api/plan", { method: "POST", body: Object.assign(settings(), sel) });
    app.snapped = (await response.json()).regions;
  } catch (error) {
    app.snapped = null;
    status(error.message, true);
  }
  updateSelection();
  draw();
}

function updateSelection() {
  const r = app.snapped && app.snapped[app.snapped.length - 1];
  $("selection").textContent = r
    ? `selection ${r.start.toFixed(3)}-${r.end.toFixed(3)} s, ${Math.round(r.low)}-${Math.round(r.high)} Hz (snapped to ${r.level} cells)`
    : "drag on the picture to select a region";
  $("apply").disabled = !r || app.busy;
}

// -- zoom and scroll -------------------------------------------------------------------------------

function setView(t0, span) {
  const total = app.state.seconds;
  const minSpan = Math.min(total, 0.05);
  span = Math.max(minSpan, Math.min(total, span));
  t0 = Math.max(0, Math.min(total - span, t0));
  app.view = { t0, t1: t0 + span };
  const room = total - span;
  $("scroll").value = room > 0 ? Math.round((t0 / room) * 1000) : 0;
  $("scroll").disabled = room <= 0;
  draw();
}

function zoom(factor, around) {
  const span = app.view.t1 - app.view.t0;
  const centre = around === undefined ? app.view.t0 + span / 2 : around;
  const newSpan = span * factor;
  setView(centre - ((centre - app.view.t0) / span) * newSpan, newSpan);
}

$("zoom-in").addEventListener("click", () => zoom(0.5));
$("zoom-out").addEventListener("click", () => zoom(2));
$("scroll").addEventListener("input", () => {
  const span = app.view.t1 - app.view.t0;
  setView((Number($("scroll").value) / 1000) * (app.state.seconds - span), span);
});
canvas.addEventListener(
  "wheel",
  (event) => {
    if (!app.state) return;
    event.preventDefault();
    if (event.shiftKey) {
      const span = app.view.t1 - app.view.t0;
      setView(app.view.t0 + (Math.sign(event.deltaY) * span) / 10, span);
    } else {
      zoom(event.deltaY < 0 ? 0.8 : 1.25, xToT(eventPoint(event).x));
    }
  },
  { passive: false },
);

// -- listening -------------------------------------------------------------------------------------

const player = {
  context: null,
  analyser: null,
  buffers: { before: null, after: null },
  bufferVersion: -1,
  source: null,
  startedAt: 0, // context time at which the buffer's `offset` was playing
  offset: 0,
  loop: null, // [start, end] seconds while looping
  playing: false,

  ensureContext() {
    if (!this.context) {
      this.context = new AudioContext();
      this.analyser = this.context.createAnalyser();
      this.analyser.fftSize = 2048;
      this.analyser.connect(this.context.destination);
    }
    return this.context;
  },

  async load(which) {
    const context = this.ensureContext();
    const response = await api(`/api/audio?which=${which}`);
    this.buffers[which] = await context.decodeAudioData(await response.arrayBuffer());
  },

  position() {
    if (!this.playing || !this.context) return null;
    let t = this.offset + (this.context.currentTime - this.startedAt);
    if (this.loop) {
      const [a, b] = this.loop;
      if (t > b) t = a + ((t - a) % (b - a));
    }
    return t;
  },

  async start(at) {
    const context = this.ensureContext();
    if (context.state === "suspended") await context.resume();
    const buffer = this.buffers[app.which];
    if (!buffer) return;
    this.stopSource();
    const source = context.createBufferSource();
    source.buffer = buffer;
    const r = app.snapped && app.snapped[app.snapped.length - 1];
    this.loop = $("loop").checked && r ? [r.start, Math.min(r.end, buffer.duration)] : null;
    if (this.loop) {
      source.loop = true;
      source.loopStart = this.loop[0];
      source.loopEnd = this.loop[1];
      if (at === undefined || at < this.loop[0] || at >= this.loop[1]) at = this.loop[0];
    } else if (at === undefined || at >= buffer.duration) {
      at = app.view.t0 > 0 ? app.view.t0 : 0;
    }
    source.connect(this.analyser);
    source.onended = () => {
      if (this.source === source) {
        this.playing = false;
        this.source = null;
        $("play").textContent = "Play";
      }
    };
    this.source = source;
    this.offset = at;
    this.startedAt = context.currentTime;
    source.start(0, at);
    this.playing = true;
    $("play").textContent = "Stop";
    requestAnimationFrame(tick);
  },

  stopSource() {
    if (this.source) {
      const source = this.source;
      this.source = null;
      source.onended = null;
      try {
        source.stop();
      } catch (e) {
        /* already stopped */
      }
    }
  },

  stop() {
    this.stopSource();
    this.playing = false;
    $("play").textContent = "Play";
    draw();
  },

  // for the tests (and curious users): the RMS level that reaches the output now
  level() {
    if (!this.analyser) return 0;
    const data = new Float32Array(this.analyser.fftSize);
    this.analyser.getFloatTimeDomainData(data);
    let sum = 0;
    for (const v of data) sum += v * v;
    return Math.sqrt(sum / data.length);
  },
};

function tick() {
  draw();
  if (player.playing) requestAnimationFrame(tick);
}

async function togglePlay() {
  if (player.playing) {
    player.stop();
    return;
  }
  try {
    await ensureAudio();
    await player.start();
  } catch (error) {
    status(`cannot play: ${error.message}`, true);
  }
}

async function ensureAudio() {
  if (!player.buffers.before) await player.load("before");
  if (player.bufferVersion !== app.state.version) {
    await player.load("after");
    player.bufferVersion = app.state.version;
  }
}

$("play").addEventListener("click", togglePlay);
for (const radio of document.querySelectorAll("input[name=ab]")) {
  radio.addEventListener("change", async () => {
    app.which = radio.value;
    if (!app.images[app.which]) await loadImage(app.which);
    draw();
    if (player.playing) {
      const at = player.position();
      await player.start(at); // the other take, from the same place
    }
  });
}
$("loop").addEventListener("change", () => {
  if (player.playing) player.start(player.position());
});

// -- editing ---------------------------------------------------------------------------------------

function setBusy(busy) {
  app.busy = busy;
  for (const id of ["undo", "redo", "export", "save-labels"]) $(id).disabled = busy;
  if (!busy) render();
  updateSelection();
}

async function refresh(state) {
  app.state = state;
  if (app.imageVersion !== state.version) {
    await loadImage("after");
    app.imageVersion = state.version;
  }
  render();
  draw();
  if (player.playing || player.context) {
    // fetch the new take in the background; a playing B restarts on it at the same place
    player.load("after").then(() => {
      player.bufferVersion = state.version;
      if (player.playing && app.which === "after") player.start(player.position());
    }).catch((error) => status(`audio: ${error.message}`, true));
  }
}

function render() {
  const s = app.state;
  $("undo").disabled = !s.can_undo || app.busy;
  $("redo").disabled = !s.can_redo || app.busy;
  $("export").disabled = app.busy;
  $("save-labels").disabled = !s.can_undo || app.busy;
  $("play").disabled = false;
  $("command").value = s.command || "# apply an edit: the command line that makes it appears here";
  $("out").textContent = `to ${s.out}` + (s.exported ? " (exported)" : "");
  const list = $("history");
  list.textContent = "";
  s.entries.forEach((entry, i) => {
    const li = document.createElement("li");
    li.textContent = `${entry.regions.join("; ")} (${entry.ms} ms)`;
    if (!entry.applied) li.className = "undone";
    li.dataset.index = i;
    list.appendChild(li);
  });
}

async function run(label, work) {
  if (app.busy) return;
  setBusy(true);
  status(`${label}...`);
  const started = performance.now();
  try {
    const message = await work();
    status(message || `${label}: done in ${Math.round(performance.now() - started)} ms`);
  } catch (error) {
    status(`${label}: ${error.message}`, true);
  } finally {
    setBusy(false);
  }
}

$("apply").addEventListener("click", () =>
  run("apply", async () => {
    if (!app.selection) throw new Error("select a region first");
    const response = await api("/api/apply", { method: "POST", body: Object.assign(settings(), app.selection) });
    const started = performance.now();
    await refresh(await response.json());
    const last = app.state.entries[app.state.position - 1];
    return `applied in ${last.ms} ms (+${Math.round(performance.now() - started)} ms to draw)`;
  }),
);

async function step(which) {
  await run(which, async () => {
    const response = await api(`/api/${which}`, { method: "POST", body: {} });
    await refresh(await response.json());
  });
}
$("undo").addEventListener("click", () => step("undo"));
$("redo").addEventListener("click", () => step("redo"));

$("export").addEventListener("click", () =>
  run("export", async () => {
    const response = await api("/api/export", { method: "POST", body: {} });
    const result = await response.json();
    app.state.exported = result.out;
    render();
    return `exported ${result.out}` + (result.warnings.length ? ` (${result.warnings.join("; ")})` : "");
  }),
);

$("save-labels").addEventListener("click", () =>
  run("save labels", async () => {
    const response = await api("/api/labels");
    const blob = await response.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = app.state.file.replace(/\.[^.]*$/, "") + ".labels.txt";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    return `saved ${link.download}`;
  }),
);

$("load-labels").addEventListener("change", (event) => {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  run("load labels", async () => {
    const text = await file.text();
    const body = Object.assign(settings(), { text, name: file.name });
    const response = await api("/api/labels", { method: "POST", body });
    await refresh(await response.json());
    const last = app.state.entries[app.state.position - 1];
    return `applied ${last.regions.length} regions of ${file.name} in ${last.ms} ms`;
  });
});

$("mode").addEventListener("change", () => {
  $("scale").value = $("mode").selectedOptions[0].dataset.scale; // each effect's own default
  snap();
});
$("scale").addEventListener("change", snap);
$("strength").addEventListener("input", () => {
  $("strength-out").textContent = Number($("strength").value).toFixed(2);
});

document.addEventListener("keydown", (event) => {
  if (event.target.tagName === "INPUT" && event.target.type !== "range" && event.target.type !== "radio") return;
  if (event.target.tagName === "TEXTAREA" || event.target.tagName === "SELECT") return;
  const key = event.key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && key === "z") {
    event.preventDefault();
    step(event.shiftKey ? "redo" : "undo");
  } else if ((event.ctrlKey || event.metaKey) && key === "y") {
    event.preventDefault();
    step("redo");
  } else if (key === " ") {
    event.preventDefault();
    togglePlay();
  } else if (key === "enter" && !$("apply").disabled) {
    $("apply").click();
  }
});

// -- start -----------------------------------------------------------------------------------------

async function start() {
  try {
    const state = await (await api("/api/state")).json();
    $("file").textContent =
      `${state.path}: ${state.seconds.toFixed(3)} s, ${state.rate} Hz, ${state.channels} ch, ` +
      `${state.format} ${state.subtype}; model ${state.model.name}`;
    $("mode").replaceChildren();
    for (const effect of state.effects) {
      const option = document.createElement("option");
      option.value = effect.name;
      option.textContent = effect.name;
      option.title = effect.help;
      option.dataset.scale = effect.default_scale;
      $("mode").appendChild(option);
    }
    [$("temperature").min, $("temperature").max] = state.limits.temperature;
    [$("strength").min, $("strength").max] = state.limits.amount;
    for (const name of state.model.priors) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      $("prior").appendChild(option);
    }
    app.state = state;
    app.view = { t0: 0, t1: state.seconds };
    await Promise.all([loadImage("before"), refresh(state)]);
    setView(0, state.seconds);
    updateSelection();
    status("ready");
    window.specblur.ready = true;
  } catch (error) {
    status(error.message, true);
  }
}

window.specblur = { app, player, ready: false };
start();
