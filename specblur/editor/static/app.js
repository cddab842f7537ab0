// specblur edit: the page. Plain JavaScript, no build step, nothing fetched from elsewhere.
// The picture is the model's log-mel image (sent as bytes, one per cell, row 0 the lowest band) and
// each column's lowest and highest sample; the page keeps them whole and draws what the view shows,
// every screen pixel the loudest of the cells it covers (max-pooled, so nothing shrinks away), on a
// canvas that follows the window and the screen's pixel ratio. The server makes the picture in the
// background, a block at a time, and every column carries the tick at which it was made: the page
// asks for the columns newer than the tick it holds, so a long file's picture arrives block by block
// (the page works meanwhile) and after an edit only the columns it touched are fetched and patched in. A drag selects a region, which the server snaps to code cells
// (the same snapping as the command line); audio plays through the Web Audio API.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const canvas = $("spec");
const ctx2d = canvas.getContext("2d");
const MARGIN = { left: 64, right: 66, top: 10, bottom: 26 };
const WAVE = { height: 56, gap: 6 };

const app = {
  state: null,
  pix: { before: null, after: null }, // {bytes, rows, width}: bands rows, then the waveform's 2
  pixVersion: -1, // the version the "after" picture shows
  view: { t0: 0, t1: 1, b0: 0, b1: 1 }, // seconds; band coordinates (0: bottom of band 0)
  selection: null, // {time: [a, b], freq: [lo, hi]}: the region's one set of numbers (snapped)
  snapped: null, // the server's cells for it, per level (the last is the finest)
  extra: [], // further selections (Shift+drag), each {time, freq, snapped}
  drag: null,
  playhead: 0,
  which: "after",
  busy: false,
  previewKey: null,
  size: { w: 0, h: 0, dpr: 1 },
  rendered: null, // {key, viewKey, image: ImageData}: the view's picture as last drawn
  patched: null, // {from, c0, c1}: columns patched in since that drawing (to draw only those again)
  drawnVersion: -1,
  pictureAt: 0, // performance.now() when a new picture was last drawn (benchmarks/editor.py)
  ticks: { before: 0, after: 0 }, // the server's tick up to which each picture's columns are held
  ready: 0, // columns of the picture made so far (from the start)
  pending: [], // [c0, c1): columns an edit changed that the server has still to make again
  lut: null, // byte -> colour, for the file's range in dB
  lutIndex: null, // byte -> palette index
  lutKey: "",
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
    method: $("mode").value === "repair" ? $("method").value : null,
    strength: Number($("strength").value),
    seed: Number.isInteger(seed) && seed >= 0 ? seed : 0,
    scale: $("scale").value,
    prior: ($("prior").disabled ? "" : $("prior").value) || null, // (off: not the method's concern)
    temperature: ($("temperature").disabled ? 1 : Number($("temperature").value)) || 1,
  };
}

// numbers as the command line writes them: fixed places, trailing zeros dropped
function dec(value, places) {
  let text = value.toFixed(places);
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  return text === "-0" ? "0" : text;
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
const PALETTE32 = new Uint32Array(256);
{
  const bytes = new Uint8Array(PALETTE32.buffer);
  PALETTE.forEach(([r, g, b], v) => bytes.set([Math.round(r), Math.round(g), Math.round(b), 255], v * 4));
}

// The picture's bytes are dB on a fixed scale (byte v: the model's floor + v * db_step dB); `lut` maps
// them to colours for the file's range (db_low to db_high), which may rise while a long file's picture
// is still arriving. Columns not made yet are drawn grey.
const GREY32 = new Uint32Array(new Uint8Array([52, 54, 60, 255]).buffer)[0];
function buildLut() {
  const im = app.state.image;
  const key = `${im.db_low},${im.db_high},${im.db_floor},${im.db_step}`;
  if (app.lutKey === key) return;
  const index = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    const db = im.db_floor + v * im.db_step;
    index[v] = Math.max(0, Math.min(255, Math.round(((db - im.db_low) / (im.db_high - im.db_low)) * 255)));
  }
  app.lutIndex = index;
  app.lut = Uint32Array.from(index, (i) => PALETTE32[i]);
  app.lutKey = key;
  app.rendered = null;
}

function emptyPicture() {
  const { width, height } = app.state.image;
  const bytes = new Uint8Array((height + 2) * width);
  bytes.fill(128, height * width); // the waveform's rows: 128 is 0
  return { bytes, rows: height + 2, width, ready: 0 };
}

// patch columns [first, first + width) of a picture in, row by row, and note them for drawing
function patchColumns(which, bytes, first, width, rows) {
  const pix = app.pix[which];
  for (let r = 0; r < rows; r++) pix.bytes.set(bytes.subarray(r * width, (r + 1) * width), r * pix.width + first);
  if (app.which !== which) return;
  // the view drawn from the picture before this patch can be mended where the columns changed
  const from = app.rendered && app.rendered.key;
  const was = app.patched && app.patched.from === from ? app.patched : { c0: first, c1: first + width };
  app.patched = from ? { from, c0: Math.min(was.c0, first), c1: Math.max(was.c1, first + width) } : null;
}

// the columns of a picture made since the tick the page holds (one request at a time, in order, so
// each brings the page from where the one before left it); `wait`: let the server wait a moment for some
function syncPicture(which, wait = false) {
  app.sync = (app.sync || Promise.resolve()).catch(() => {}).then(() => fetchColumns(which, wait));
  return app.sync;
}

async function fetchColumns(which, wait) {
  const response = await api(`/api/image?which=${which}&tick=${app.ticks[which]}${wait ? "&wait=1" : ""}`);
  const h = (name) => response.headers.get(name);
  const first = Number(h("X-From"));
  const width = Number(h("X-Width"));
  const rows = Number(h("X-Height"));
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (!app.pix[which]) app.pix[which] = emptyPicture();
  if (width > 0) patchColumns(which, bytes, first, width, rows);
  app.ticks[which] = Number(h("X-Tick"));
  // what this answer holds (each picture's own: the other's answer may be newer or older)
  app.pix[which].ready = Number(h("X-Ready"));
  app.ready = Math.min(app.pix.before.ready, app.pix.after.ready);
  if (which === "after") {
    app.pending = (h("X-Pending") || "").split(",").filter((x) => x).map((x) => x.split("-").map(Number));
  }
  app.pictureFailed = h("X-Failed") === "1";
  const im = app.state.image;
  [im.db_low, im.db_high] = [Number(h("X-Db-Low")), Number(h("X-Db-High"))];
  buildLut();
  return width;
}

function pictureWhole() {
  return app.state && app.ready >= app.state.image.width && app.pending.length === 0;
}

// the picture of a long file arrives block by block (and the new picture of a wide edit likewise):
// fetch and draw each as it comes, with a note of how far it is; the page works meanwhile
async function pictureLoop() {
  if (app.filling) return;
  app.filling = true;
  window.specblur.complete = false;
  try {
    while (!pictureWhole() && !app.pictureFailed) {
      const loading = app.ready < app.state.image.width;
      await syncPicture(loading ? "before" : "after", true);
      await syncPicture(loading ? "after" : "before");
      pictureNote();
      draw();
    }
    if (app.pictureFailed) {
      app.state = await (await api("/api/state")).json();
      throw new Error(app.state.image.error || "could not be made");
    }
  } catch (error) {
    status(`picture: ${error.message}`, true);
  } finally {
    app.filling = false;
    pictureNote();
    draw();
  }
  window.specblur.complete = pictureWhole();
}

function pictureNote() {
  const note = $("picture-note");
  const total = app.state.image.width;
  if (pictureWhole() || app.pictureFailed) {
    note.hidden = true;
    return;
  }
  note.hidden = false;
  if (app.ready < total) {
    note.textContent = `picture: ${Math.floor((100 * app.ready) / total)}% made (select and edit meanwhile)`;
  } else {
    const left = app.pending.reduce((n, [a, b]) => n + b - a, 0);
    note.textContent = `picture: ${timeText(left * frameSeconds())} of the edit's columns still to draw`;
  }
}

// the whole picture at once (once the server has made it all): what every change cost before
// issue 22, kept for benchmarks/editor.py's reference
async function loadPicture(which) {
  const response = await api(`/api/image?which=${which}`);
  const width = Number(response.headers.get("X-Width"));
  const rows = Number(response.headers.get("X-Height"));
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (Number(response.headers.get("X-From")) !== 0 || width !== app.state.image.width) {
    throw new Error("picture: expected every column");
  }
  app.pix[which] = { bytes, rows, width, ready: width };
  app.rendered = null;
  return width;
}

// the layout, in CSS pixels: the spectrogram's box, the waveform lane under it, the dB scale
function plotBox() {
  const { w, h } = app.size;
  const ph = h - MARGIN.top - MARGIN.bottom - WAVE.height - WAVE.gap;
  return { x: MARGIN.left, y: MARGIN.top, w: w - MARGIN.left - MARGIN.right, h: Math.max(40, ph) };
}
function waveBox() {
  const p = plotBox();
  return { x: p.x, y: p.y + p.h + WAVE.gap, w: p.w, h: WAVE.height };
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
function bandToY(b) {
  const p = plotBox();
  return p.y + p.h * (1 - (b - app.view.b0) / (app.view.b1 - app.view.b0));
}
function hzToY(hz) {
  return bandToY(hzToBand(hz));
}
function yToHz(y) {
  const p = plotBox();
  return bandToHz(app.view.b0 + ((p.y + p.h - y) / p.h) * (app.view.b1 - app.view.b0));
}

// For each of `n` screen pixels over [a, b) (in columns or bands), the half-open range of cells it
// covers: never empty, so a pixel narrower than a cell shows that cell, one wider shows them all.
function cellRanges(n, a, b, count) {
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  const per = (b - a) / n;
  for (let i = 0; i < n; i++) {
    let c0 = Math.floor(a + i * per);
    let c1 = Math.ceil(a + (i + 1) * per);
    c0 = Math.max(0, Math.min(count - 1, c0));
    c1 = Math.max(c0 + 1, Math.min(count, c1));
    lo[i] = c0;
    hi[i] = c1;
  }
  return [lo, hi];
}

// The spectrogram of the view at the canvas's device pixels, max-pooled in time and frequency; with
// `image` (the view's, drawn before), only its screen columns [xa, xb) are drawn again.
function renderPlot(pix, dw, dh, image = null, xa = 0, xb = dw) {
  const bands = app.state.model.bands;
  const fs = frameSeconds();
  const [x0, x1] = cellRanges(dw, app.view.t0 / fs, app.view.t1 / fs, pix.width);
  const top = app.view.b1;
  const [r0, r1] = cellRanges(dh, app.view.b0, top, bands); // r: bottom-up; screen rows top-down
  // each screen column: every band's loudest cell over the columns it covers
  const colmax = new Uint8Array((xb - xa) * bands);
  const src = pix.bytes;
  const width = pix.width;
  for (let x = xa; x < xb; x++) {
    const a = x0[x];
    const b = x1[x];
    const base = (x - xa) * bands;
    for (let band = 0; band < bands; band++) {
      const row = band * width;
      let m = 0;
      for (let c = a; c < b; c++) {
        const v = src[row + c];
        if (v > m) m = v;
      }
      colmax[base + band] = m;
    }
  }
  image = image || new ImageData(dw, dh);
  const out = new Uint32Array(image.data.buffer);
  const lut = app.lut;
  const ready = pix.ready === undefined ? width : pix.ready; // columns from `ready` on: not made yet
  for (let y = 0; y < dh; y++) {
    const i = dh - 1 - y; // screen row y shows bands [r0[i], r1[i])
    const a = r0[i];
    const b = r1[i];
    const line = y * dw;
    for (let x = xa; x < xb; x++) {
      if (x0[x] >= ready) {
        out[line + x] = GREY32;
        continue;
      }
      const base = (x - xa) * bands;
      let m = colmax[base + a];
      for (let band = a + 1; band < b; band++) if (colmax[base + band] > m) m = colmax[base + band];
      out[line + x] = lut[m];
    }
  }
  return image;
}

// each screen column's lowest and highest sample over the columns it covers (bytes, 128 = 0)
function waveColumns(pix, n) {
  const fs = frameSeconds();
  const [x0, x1] = cellRanges(n, app.view.t0 / fs, app.view.t1 / fs, pix.width);
  const bands = app.state.model.bands;
  const lows = pix.bytes.subarray(bands * pix.width, (bands + 1) * pix.width);
  const highs = pix.bytes.subarray((bands + 1) * pix.width, (bands + 2) * pix.width);
  const lo = new Uint8Array(n);
  const hi = new Uint8Array(n);
  for (let x = 0; x < n; x++) {
    let a = 255;
    let b = 0;
    for (let c = x0[x]; c < x1[x]; c++) {
      if (lows[c] < a) a = lows[c];
      if (highs[c] > b) b = highs[c];
    }
    lo[x] = a;
    hi[x] = b;
  }
  return [lo, hi];
}

function niceStep(span, pixels, minPixels) {
  const steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600];
  for (const s of steps) if ((s / span) * pixels >= minPixels) return s;
  return steps[steps.length - 1];
}

// m:ss on files of a minute or more, seconds below; as many decimals as the step needs
function timeLabel(t, step) {
  const digits = step < 0.01 ? 3 : step < 0.1 ? 2 : step < 1 ? 1 : 0;
  if (app.state.seconds < 60) return `${t.toFixed(digits)} s`;
  const minutes = Math.floor(t / 60 + 1e-9);
  const rest = Math.max(0, t - minutes * 60);
  const secs = rest.toFixed(digits).padStart(digits ? digits + 3 : 2, "0");
  return `${minutes}:${secs}`;
}

function resize() {
  const view = $("view");
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(320, Math.floor(view.clientWidth));
  const h = Math.max(240, Math.floor(view.clientHeight));
  if (w === app.size.w && h === app.size.h && dpr === app.size.dpr) return;
  app.size = { w, h, dpr };
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  app.rendered = null;
  draw();
}

function draw() {
  const s = app.state;
  if (!s || !app.size.w) return;
  const { w, h, dpr } = app.size;
  const p = plotBox();
  const wb = waveBox();
  ctx2d.setTransform(1, 0, 0, 1, 0, 0);
  ctx2d.fillStyle = "#16171b";
  ctx2d.fillRect(0, 0, canvas.width, canvas.height);
  const pix = app.pix[app.which];
  const dx = Math.round(p.x * dpr);
  const dy = Math.round(p.y * dpr);
  const dw = Math.round((p.x + p.w) * dpr) - dx;
  const dh = Math.round((p.y + p.h) * dpr) - dy;
  if (pix) {
    const v = app.view;
    const key = [app.which, app.which === "after" ? app.pixVersion : 0, app.ticks[app.which], v.t0, v.t1, v.b0, v.b1, dw, dh].join();
    const viewKey = [app.which, app.lutKey, v.t0, v.t1, v.b0, v.b1, dw, dh].join();
    if (!app.rendered || app.rendered.key !== key) {
      const old = app.rendered;
      const patch = app.patched;
      if (old && patch && old.viewKey === viewKey && old.key === patch.from) {
        // only the screen columns that show the patched picture columns
        const fs = frameSeconds();
        const per = (v.t1 - v.t0) / fs / dw;
        const xa = Math.max(0, Math.floor((patch.c0 - v.t0 / fs) / per) - 1);
        const xb = Math.min(dw, Math.ceil((patch.c1 - v.t0 / fs) / per) + 1);
        if (xb > xa) renderPlot(pix, dw, dh, old.image, xa, xb);
        app.rendered = { key, viewKey, image: old.image };
      } else {
        app.rendered = { key, viewKey, image: renderPlot(pix, dw, dh) };
      }
      app.patched = null;
      if (app.which === "after" && app.drawnVersion !== app.pixVersion) {
        app.drawnVersion = app.pixVersion;
        app.pictureAt = performance.now();
      }
    }
    ctx2d.putImageData(app.rendered.image, dx, dy);
  }
  ctx2d.setTransform(dpr, 0, 0, dpr, 0, 0);
  if (app.which === "after" && app.pending.length) {
    // columns an edit changed, not drawn again yet: hatched until they arrive
    const fs = frameSeconds();
    ctx2d.save();
    ctx2d.beginPath();
    ctx2d.rect(p.x, p.y, p.w, p.h);
    ctx2d.clip();
    ctx2d.fillStyle = "rgba(40,42,48,0.55)";
    for (const [a, b] of app.pending) {
      const xa = Math.max(p.x, tToX(a * fs));
      const xb = Math.min(p.x + p.w, tToX(b * fs));
      if (xb > xa) ctx2d.fillRect(xa, p.y, xb - xa, p.h);
    }
    ctx2d.restore();
  }
  ctx2d.setTransform(dpr, 0, 0, dpr, 0, 0);
  // the waveform lane: each pixel column from its lowest to its highest sample
  ctx2d.fillStyle = "#000";
  ctx2d.fillRect(wb.x, wb.y, wb.w, wb.h);
  if (pix) {
    const n = Math.max(1, Math.round(wb.w * dpr));
    const [lo, hi] = waveColumns(pix, n);
    ctx2d.fillStyle = app.which === "before" ? "#8fb3d9" : "#9fd99f";
    for (let x = 0; x < n; x++) {
      const yTop = wb.y + wb.h * (1 - hi[x] / 255);
      const yBottom = wb.y + wb.h * (1 - lo[x] / 255);
      ctx2d.fillRect(wb.x + x / dpr, yTop, 1 / dpr, Math.max(1 / dpr, yBottom - yTop));
    }
    ctx2d.strokeStyle = "#333";
    ctx2d.beginPath();
    ctx2d.moveTo(wb.x, wb.y + wb.h / 2);
    ctx2d.lineTo(wb.x + wb.w, wb.y + wb.h / 2);
    ctx2d.stroke();
  }
  // the frequency axis
  ctx2d.strokeStyle = "#666";
  ctx2d.fillStyle = "#bbb";
  ctx2d.lineWidth = 1;
  ctx2d.font = "11px system-ui, sans-serif";
  ctx2d.textAlign = "right";
  ctx2d.textBaseline = "middle";
  let lastY = Infinity;
  const lowHz = bandToHz(app.view.b0);
  const highHz = bandToHz(app.view.b1);
  const ticks = [];
  for (const hz of [20, 50, 100, 200, 300, 500, 700, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000, 14000, 16000, 18000, 20000, 22000]) {
    if (hz >= lowHz && hz <= highHz && hz <= s.model.top_hz) ticks.push(hz);
  }
  for (const hz of ticks) {
    const y = hzToY(hz);
    if (lastY - y < 16 || y < p.y + 5) continue;
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
  // the time axis, under the waveform: labels kept inside the canvas, none overlapping
  ctx2d.textBaseline = "top";
  const span = app.view.t1 - app.view.t0;
  const step = niceStep(span, p.w, s.seconds >= 60 ? 80 : 70);
  let lastRight = -Infinity;
  const axisY = wb.y + wb.h;
  app.timeLabels = []; // what was written, where (the tests check none is cut off)
  for (let k = Math.ceil(app.view.t0 / step - 1e-9); k * step <= app.view.t1 + 1e-9; k++) {
    const t = k * step;
    const x = tToX(t);
    const text = timeLabel(t, step);
    const half = ctx2d.measureText(text).width / 2;
    const cx = Math.max(half + 2, Math.min(w - half - 2, x));
    ctx2d.beginPath();
    ctx2d.moveTo(x, axisY);
    ctx2d.lineTo(x, axisY + 4);
    ctx2d.stroke();
    if (cx - half < lastRight + 6) continue;
    ctx2d.textAlign = "center";
    ctx2d.fillText(text, cx, axisY + 7);
    app.timeLabels.push({ text, t, left: cx - half, right: cx + half });
    lastRight = cx + half;
  }
  drawScale(p);
  // overlays, clipped to the picture
  ctx2d.save();
  ctx2d.beginPath();
  ctx2d.rect(p.x, p.y, p.w, p.h);
  ctx2d.clip();
  drawApplied(p);
  for (const sel of app.extra) drawSelection(sel, sel.snapped, p, "#b58cff");
  if (app.selection) {
    if (app.drag || !app.snapped) {
      const [a, b] = app.selection.time;
      const [lo, hi] = app.selection.freq;
      ctx2d.setLineDash([4, 4]);
      ctx2d.strokeStyle = "rgba(255,255,255,0.8)";
      ctx2d.strokeRect(tToX(a), hzToY(hi), tToX(b) - tToX(a), hzToY(lo) - hzToY(hi));
      ctx2d.setLineDash([]);
    } else {
      drawSelection(app.selection, app.snapped, p, "#6fc3ff");
    }
  }
  ctx2d.restore();
  // the playhead: white while playing, yellow where Space starts
  ctx2d.save();
  ctx2d.beginPath();
  ctx2d.rect(p.x, p.y, p.w, wb.y + wb.h - p.y);
  ctx2d.clip();
  const at = player.position();
  const marks = [[app.playhead, "#ffd84a"]];
  if (at !== null) marks.push([at, "#fff"]);
  for (const [t, colourName] of marks) {
    if (t < app.view.t0 || t > app.view.t1) continue;
    ctx2d.strokeStyle = colourName;
    ctx2d.lineWidth = 1;
    ctx2d.beginPath();
    ctx2d.moveTo(tToX(t), p.y);
    ctx2d.lineTo(tToX(t), wb.y + wb.h);
    ctx2d.stroke();
  }
  ctx2d.restore();
  ctx2d.fillStyle = "#ddd";
  ctx2d.textAlign = "left";
  ctx2d.textBaseline = "top";
  const label = app.which === "before" ? "A: before" : s.preview ? "B: after (preview)" : "B: after";
  ctx2d.fillText(label, p.x + 6, p.y + 4);
}

// the colour scale, in dB, right of the picture
function drawScale(p) {
  const s = app.state;
  const x = p.x + p.w + 10;
  const barW = 10;
  const { db_low: low, db_high: high } = s.image;
  for (let i = 0; i < p.h; i++) {
    const v = Math.round(255 * (1 - i / Math.max(1, p.h - 1)));
    const [r, g, b] = PALETTE[v];
    ctx2d.fillStyle = `rgb(${r},${g},${b})`;
    ctx2d.fillRect(x, p.y + i, barW, 1.5);
  }
  ctx2d.strokeStyle = "#666";
  ctx2d.strokeRect(x, p.y, barW, p.h);
  ctx2d.fillStyle = "#bbb";
  ctx2d.textAlign = "left";
  ctx2d.textBaseline = "middle";
  const stepDb = (high - low) / 10 > 8 ? 20 : 10;
  let last = -Infinity;
  for (let db = Math.floor(high / stepDb) * stepDb; db >= low; db -= stepDb) {
    const y = p.y + p.h * ((high - db) / (high - low));
    if (y - last < 14) continue;
    last = y;
    ctx2d.fillText(`${db}`, x + barW + 4, Math.max(p.y + 5, Math.min(p.y + p.h - 5, y)));
  }
  ctx2d.textBaseline = "bottom";
  ctx2d.fillText("dB", x, p.y + p.h + 14);
}

function cellRect(r) {
  const fs = frameSeconds();
  const x0 = tToX(r.frames[0] * fs);
  const x1 = tToX(r.frames[1] * fs);
  const y0 = bandToY(r.bins[1]);
  const y1 = bandToY(r.bins[0]);
  return [x0, y0, x1 - x0, y1 - y0];
}

// the edits applied so far, outlined where they changed the picture's cells
function drawApplied() {
  ctx2d.setLineDash([6, 3]);
  ctx2d.lineWidth = 1.5;
  app.state.entries.forEach((entry, i) => {
    if (!entry.applied) return;
    ctx2d.strokeStyle = entry.preview ? "rgba(255,216,74,0.95)" : "rgba(120,230,140,0.9)";
    for (const r of entry.snapped) ctx2d.strokeRect(...cellRect(r));
  });
  ctx2d.setLineDash([]);
}

function drawSelection(sel, snapped, p, stroke) {
  if (!snapped) return;
  const r = snapped[snapped.length - 1];
  const [x0, y0, w, h] = cellRect(r);
  ctx2d.fillStyle = "rgba(111,195,255,0.12)";
  ctx2d.fillRect(x0, y0, w, h);
  ctx2d.strokeStyle = stroke;
  ctx2d.lineWidth = 2;
  ctx2d.strokeRect(x0, y0, w, h);
  // the cell grid inside, so the snapping is visible
  const [fb, tb] = app.state.model.cells[r.level];
  const fs = frameSeconds();
  ctx2d.lineWidth = 1;
  ctx2d.strokeStyle = "rgba(111,195,255,0.25)";
  if ((tb * fs * p.w) / (app.view.t1 - app.view.t0) > 3) {
    for (let f = r.frames[0] + tb; f < r.frames[1]; f += tb) {
      ctx2d.beginPath();
      ctx2d.moveTo(tToX(f * fs), y0);
      ctx2d.lineTo(tToX(f * fs), y0 + h);
      ctx2d.stroke();
    }
  }
  for (let b = r.bins[0] + fb; b < r.bins[1]; b += fb) {
    const y = bandToY(b);
    ctx2d.beginPath();
    ctx2d.moveTo(x0, y);
    ctx2d.lineTo(x0 + w, y);
    ctx2d.stroke();
  }
}

// -- selecting -------------------------------------------------------------------------------------

function eventPoint(event) {
  const rect = canvas.getBoundingClientRect();
  const x = ((event.clientX - rect.left) / rect.width) * app.size.w;
  const y = ((event.clientY - rect.top) / rect.height) * app.size.h;
  const p = plotBox();
  const wb = waveBox();
  const cx = Math.max(p.x, Math.min(p.x + p.w, x));
  const cy = Math.max(p.y, Math.min(p.y + p.h, y));
  const inside = x >= p.x && x <= p.x + p.w && y >= p.y && y <= p.y + p.h;
  const inWave = x >= wb.x && x <= wb.x + wb.w && y >= wb.y && y <= wb.y + wb.h;
  return { x: cx, y: cy, rawX: x, inside, inWave };
}

canvas.addEventListener("mousedown", (event) => {
  if (!app.state || event.button !== 0) return;
  const pt = eventPoint(event);
  if (pt.inWave) {
    setPlayhead(xToT(pt.x));
    event.preventDefault();
    return;
  }
  if (!pt.inside) return;
  app.drag = { x: pt.x, y: pt.y, moved: false, shift: event.shiftKey };
  event.preventDefault();
});

window.addEventListener("mousemove", (event) => {
  if (!app.drag) return;
  const pt = eventPoint(event);
  if (Math.abs(pt.x - app.drag.x) + Math.abs(pt.y - app.drag.y) < 4 && !app.drag.moved) return;
  if (!app.drag.moved) {
    // a drag (not a click): a new selection, added to the others with Shift
    if (!app.drag.shift) app.extra = [];
    else if (app.selection && app.snapped) {
      app.extra.push({ time: app.selection.time, freq: app.selection.freq, snapped: app.snapped });
    }
  }
  app.drag.moved = true;
  app.snapped = null;
  const s = app.state;
  const a = Math.max(0, Math.min(xToT(app.drag.x), xToT(pt.x)));
  const b = Math.min(s.seconds, Math.max(xToT(app.drag.x), xToT(pt.x)));
  const lo = Math.max(0, Math.min(yToHz(app.drag.y), yToHz(pt.y)));
  const hi = Math.min(s.model.top_hz, Math.max(yToHz(app.drag.y), yToHz(pt.y)));
  app.selection = { time: [a, b], freq: [lo, hi] };
  draw();
});

window.addEventListener("mouseup", async () => {
  if (!app.drag) return;
  const drag = app.drag;
  app.drag = null;
  if (!drag.moved) {
    setPlayhead(xToT(drag.x)); // a click: the playhead goes there; the selections stay
    return;
  }
  const sel = app.selection;
  if (!sel || sel.time[1] - sel.time[0] <= 0 || sel.freq[1] - sel.freq[0] <= 0) {
    app.selection = null;
    updateSelection();
    draw();
    return;
  }
  await snap();
});

function setPlayhead(t) {
  app.playhead = Math.max(0, Math.min(app.state.seconds, t));
  $("playhead").textContent = `playhead ${timeText(app.playhead)}`;
  if (player.playing && !player.loop) player.start(app.playhead);
  draw();
}

function timeText(t) {
  if (app.state.seconds < 60) return `${t.toFixed(3)} s`;
  const m = Math.floor(t / 60);
  return `${m}:${(t - m * 60).toFixed(3).padStart(6, "0")}`;
}

// ask the server where the selection lands; it answers with the cells and the region's one set of
// numbers (the snapped cells'), which the selection then takes
async function snap() {
  const sel = app.selection;
  if (!sel) return;
  try {
    const response = await api("/api/plan", { method: "POST", body: Object.assign(settings(), requestRegion(sel)) });
    const answer = await response.json();
    if (app.selection !== sel) return; // a newer selection is on its way
    app.selection = { time: answer.time, freq: answer.freq };
    app.snapped = answer.regions;
  } catch (error) {
    app.snapped = null;
    status(error.message, true);
  }
  updateSelection();
  draw();
}

// what is sent for a region: times to the microsecond, Hz to the millihertz (what the server keeps)
function requestRegion(sel) {
  const r6 = (v) => Math.round(v * 1e6) / 1e6;
  const r3 = (v) => (v === null ? null : Math.round(v * 1e3) / 1e3);
  return { time: [r6(sel.time[0]), r6(sel.time[1])], freq: [r3(sel.freq[0]), r3(sel.freq[1])] };
}

function regionText(sel) {
  const [lo, hi] = sel.freq;
  return `${dec(sel.time[0], 6)}-${dec(sel.time[1], 6)} s, ${lo === null ? "0" : dec(lo, 3)}-${hi === null ? "top" : dec(hi, 3)} Hz`;
}

function updateSelection() {
  const r = app.snapped && app.snapped[app.snapped.length - 1];
  const more = app.extra.length ? ` + ${app.extra.length} more` : "";
  $("selection").textContent = r
    ? `selection ${regionText(app.selection)} (${r.level} cells)${more}`
    : "drag on the picture to select a region (Shift+drag adds one)";
  const fields = { "t-start": 0, "t-end": 1 };
  for (const [id, i] of Object.entries(fields)) {
    if (document.activeElement !== $(id)) $(id).value = app.selection && r ? dec(app.selection.time[i], 6) : "";
  }
  const bands = { "f-low": 0, "f-high": 1 };
  for (const [id, i] of Object.entries(bands)) {
    const v = app.selection && r ? app.selection.freq[i] : null;
    if (document.activeElement !== $(id)) $(id).value = v === null || v === undefined ? "" : dec(v, 3);
  }
  $("apply").disabled = !r || app.busy;
  $("preview").disabled = !r || app.busy;
}

// typed numbers: the four fields make the selection, which is then snapped
for (const id of ["t-start", "t-end", "f-low", "f-high"]) {
  $(id).addEventListener("change", () => {
    if (!app.state) return;
    const num = (v, fallback) => (v === "" || !Number.isFinite(Number(v)) ? fallback : Number(v));
    const cur = app.selection || { time: [0, Math.min(1, app.state.seconds)], freq: [null, null] };
    app.selection = {
      time: [num($("t-start").value, cur.time[0]), num($("t-end").value, cur.time[1])],
      freq: [num($("f-low").value, cur.freq[0]), num($("f-high").value, cur.freq[1])],
    };
    app.snapped = null;
    snap();
  });
}

// -- zoom and scroll -------------------------------------------------------------------------------

function setView(t0, span, b0, bspan) {
  const total = app.state.seconds;
  const bands = app.state.model.bands;
  const minSpan = Math.min(total, 0.05);
  span = Math.max(minSpan, Math.min(total, span));
  t0 = Math.max(0, Math.min(total - span, t0));
  if (b0 === undefined) [b0, bspan] = [app.view.b0, app.view.b1 - app.view.b0];
  bspan = Math.max(Math.min(bands, 4), Math.min(bands, bspan));
  b0 = Math.max(0, Math.min(bands - bspan, b0));
  app.view = { t0, t1: t0 + span, b0, b1: b0 + bspan };
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

function zoomFreq(factor, aroundBand) {
  const { b0, b1 } = app.view;
  const span = b1 - b0;
  const centre = aroundBand === undefined ? b0 + span / 2 : aroundBand;
  const newSpan = span * factor;
  setView(app.view.t0, app.view.t1 - app.view.t0, centre - ((centre - b0) / span) * newSpan, newSpan);
}

function fitAll() {
  setView(0, app.state.seconds, 0, app.state.model.bands);
}

$("zoom-in").addEventListener("click", () => zoom(0.5));
$("zoom-out").addEventListener("click", () => zoom(2));
$("fzoom-in").addEventListener("click", () => zoomFreq(0.5));
$("fzoom-out").addEventListener("click", () => zoomFreq(2));
$("fit").addEventListener("click", fitAll);
$("scroll").addEventListener("input", () => {
  const span = app.view.t1 - app.view.t0;
  setView((Number($("scroll").value) / 1000) * (app.state.seconds - span), span);
});
canvas.addEventListener(
  "wheel",
  (event) => {
    if (!app.state) return;
    event.preventDefault();
    const pt = eventPoint(event);
    if (event.shiftKey) {
      const span = app.view.t1 - app.view.t0;
      setView(app.view.t0 + (Math.sign(event.deltaY) * span) / 10, span);
    } else if (event.altKey || event.ctrlKey) {
      const p = plotBox();
      const band = app.view.b0 + ((p.y + p.h - pt.y) / p.h) * (app.view.b1 - app.view.b0);
      zoomFreq(event.deltaY < 0 ? 0.8 : 1.25, band);
    } else {
      zoom(event.deltaY < 0 ? 0.8 : 1.25, xToT(pt.x));
    }
  },
  { passive: false },
);

// -- listening -------------------------------------------------------------------------------------

const UP = Math.fround(1 / 32767);
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
      // at the file's own rate where the browser can (so an edit's samples patch the take in place)
      try {
        this.context = new AudioContext({ sampleRate: app.state.rate });
      } catch (error) {
        this.context = new AudioContext();
      }
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

  // the after take brought up to the state's version: only the samples changed since the version
  // it holds, where it can (else all of it again)
  update() {
    // one at a time, in order: each asks for what changed since the version the one before left
    this.chain = (this.chain || Promise.resolve()).catch(() => {}).then(() => this.updateNow());
    return this.chain;
  },

  async updateNow() {
    const version = app.state.version;
    if (this.buffers.after && this.bufferVersion === version) return;
    const buffer = this.buffers.after;
    if (buffer && this.bufferVersion >= 0 && buffer.sampleRate === app.state.rate) {
      try {
        const response = await api(`/api/audio?which=after&since=${this.bufferVersion}`);
        const first = Number(response.headers.get("X-From"));
        const frames = Number(response.headers.get("X-Frames"));
        const pcm = new Int16Array(await response.arrayBuffer());
        const channels = buffer.numberOfChannels;
        for (let c = 0; c < channels; c++) {
          const data = new Float32Array(frames);
          for (let i = 0; i < frames; i++) {
            const v = pcm[i * channels + c];
            data[i] = v < 0 ? v / 32768 : v * UP; // as Chromium decodes a 16-bit WAV (float32 steps)
          }
          buffer.copyToChannel(data, c, first);
        }
        this.bufferVersion = version;
        this.patchedFrames = frames;
        return;
      } catch (error) {
        /* not a version the server knows: the whole take below */
      }
    }
    await this.load("after");
    this.bufferVersion = version;
    this.patchedFrames = null;
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
      at = app.playhead < buffer.duration ? app.playhead : 0;
    }
    source.connect(this.analyser);
    source.onended = () => {
      if (this.source === source) {
        this.playing = false;
        this.source = null;
        $("play").textContent = "Play";
        draw();
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
    await player.start(app.playhead);
  } catch (error) {
    status(`cannot play: ${error.message}`, true);
  }
}

async function ensureAudio() {
  if (!player.buffers.before) await player.load("before");
  if (player.bufferVersion !== app.state.version) await player.update();
}

$("play").addEventListener("click", togglePlay);
for (const radio of document.querySelectorAll("input[name=ab]")) {
  radio.addEventListener("change", async () => {
    app.which = radio.value;
    app.rendered = null;
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
  for (const id of ["undo", "redo", "export", "export-as", "save-labels", "load-button"]) $(id).disabled = busy;
  $("cancel").hidden = !busy;
  if (!busy) render();
  updateSelection();
}

// a new state from the server: fetch only the columns that changed since the picture we hold
async function refresh(state) {
  app.state = state;
  render(); // the buttons, history and command line follow the state at once; the picture follows its columns
  if (app.pixVersion !== state.version) {
    await syncPicture("after");
    app.pixVersion = state.version;
  }
  render();
  draw();
  if (!pictureWhole()) pictureLoop(); // a wide edit's columns arrive in the background
  if (player.buffers.after) {
    // bring the take up to date in the background (only what changed); a playing B restarts on it
    // at the same place
    player.updating = player.update().then(() => {
      if (player.playing && app.which === "after") player.start(player.position());
    }).catch((error) => status(`audio: ${error.message}`, true));
  }
}

function render() {
  const s = app.state;
  buildLut(); // the colours for the state's range in dB (the bytes held are absolute: any range fits them)
  $("undo").disabled = !s.can_undo || app.busy;
  $("redo").disabled = !s.can_redo || app.busy;
  $("export").disabled = app.busy || s.preview;
  $("export-as").disabled = app.busy || s.preview;
  $("discard").hidden = !s.preview;
  $("save-labels").disabled = !s.can_undo || app.busy;
  $("play").disabled = false;
  $("command").value = s.command || "# apply an edit: the command line that makes it appears here";
  $("out").textContent = `to ${s.out}` + (s.exported ? " (exported)" : "");
  const list = $("history");
  list.textContent = "";
  s.entries.forEach((entry, i) => {
    const li = document.createElement("li");
    // a repair says how each region was filled (what auto picked; declick: how many clicks); any
    // edit, what was held under full scale (as the command line warns)
    const how = (r, k) => {
      const part = entry.snapped[k] || null;
      const dips = part && part.held ? `held by dips of up to ${part.held.db.toFixed(1)} dB` : "";
      const held = dips ? ` [${part.held.frames} over full scale: ${dips}]` : "";
      if (!r.startsWith("repair") || !part || !part.method) return r + held;
      const clicks = part.method === "declick" && part.clicks !== null && part.clicks !== undefined;
      const made = clicks ? `[declick: ${part.clicks} click${part.clicks === 1 ? "" : "s"}]` : `[${part.method}]`;
      return `${r} ${made}${held}`;
    };
    const what = entry.name ? `${entry.name}: ${entry.regions.length} regions` : entry.regions.map(how).join("; ");
    li.textContent = `${entry.preview ? "preview: " : ""}${what} (${entry.ms} ms)`;
    if (!entry.applied) li.className = "undone";
    if (entry.preview) li.className = "preview";
    li.dataset.index = i;
    list.appendChild(li);
  });
}

// long work: the server's progress, shown while the request runs; Cancel asks it to stop
async function watchProgress(label, done) {
  while (!done.value) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    if (done.value) break;
    try {
      const p = await (await api("/api/progress")).json();
      if (!done.value && p.total > 1) {
        status(`${label}: ${p.done} of ${p.total} ${p.unit || "regions"}... (Esc or Cancel stops)`);
        $("progress").max = p.total;
        $("progress").value = p.done;
        $("progress").hidden = false;
      }
    } catch (error) {
      /* the next try, or the work's own answer, tells */
    }
  }
}

async function run(label, work) {
  if (app.busy) return;
  setBusy(true);
  status(`${label}...`);
  const started = performance.now();
  const done = { value: false };
  const watching = watchProgress(label, done);
  try {
    const message = await work();
    status(message || `${label}: done in ${Math.round(performance.now() - started)} ms`);
  } catch (error) {
    status(`${label}: ${error.message}`, true);
  } finally {
    done.value = true; // the watcher stops at its next look, and writes nothing after this
    $("progress").hidden = true;
    setBusy(false);
  }
  return watching;
}

$("cancel").addEventListener("click", () => cancelWork());
async function cancelWork() {
  try {
    await api("/api/cancel", { method: "POST", body: {} });
  } catch (error) {
    status(`cancel: ${error.message}`, true);
  }
}

function applyBody(preview) {
  const regions = [...app.extra.map((sel) => requestRegion(sel)), requestRegion(app.selection)];
  return Object.assign(settings(), { regions, preview });
}

$("apply").addEventListener("click", () =>
  run("apply", async () => {
    if (!app.selection) throw new Error("select a region first");
    const body = applyBody(false);
    const key = JSON.stringify(body.regions) + JSON.stringify(settings());
    const committing = app.state.preview && app.previewKey === key;
    const response = committing
      ? await api("/api/commit", { method: "POST", body: {} })
      : await api("/api/apply", { method: "POST", body });
    app.previewKey = null;
    const started = performance.now();
    await refresh(await response.json());
    const last = app.state.entries[app.state.position - 1];
    return `applied in ${last.ms} ms (+${Math.round(performance.now() - started)} ms to draw)`;
  }),
);

$("preview").addEventListener("click", () => preview());
async function preview() {
  await run("preview", async () => {
    if (!app.selection) throw new Error("select a region first");
    const body = applyBody(true);
    const response = await api("/api/apply", { method: "POST", body });
    app.previewKey = JSON.stringify(body.regions) + JSON.stringify(settings());
    await refresh(await response.json());
    if (app.which !== "after") document.querySelector("input[name=ab][value=after]").click();
    return "previewing: listen, then Apply keeps it (Enter) or Discard drops it (Esc)";
  });
}

$("discard").addEventListener("click", () => step("discard"));

async function step(which) {
  await run(which, async () => {
    const response = await api(`/api/${which}`, { method: "POST", body: {} });
    app.previewKey = null;
    await refresh(await response.json());
  });
}
$("undo").addEventListener("click", () => step("undo"));
$("redo").addEventListener("click", () => step("redo"));

async function exportTo(name) {
  await run("export", async () => {
    const response = await api("/api/export", { method: "POST", body: name === undefined ? {} : { name } });
    const result = await response.json();
    app.state = await (await api("/api/state")).json();
    render();
    $("export-as-box").hidden = true;
    return `exported ${result.out}` + (result.warnings.length ? ` (${result.warnings.join("; ")})` : "");
  });
}
$("export").addEventListener("click", () => exportTo());
$("export-as").addEventListener("click", () => {
  $("export-as-box").hidden = false;
  const name = $("export-name");
  if (!name.value) name.value = app.state.out.split("/").pop();
  name.focus();
  name.select();
});
$("export-write").addEventListener("click", () => exportTo($("export-name").value));
$("export-name").addEventListener("keydown", (event) => {
  if (event.key === "Enter") exportTo($("export-name").value);
  if (event.key === "Escape") $("export-as-box").hidden = true;
});

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

$("load-button").addEventListener("click", () => $("load-labels").click());
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

// repair's methods that draw no codes take no prior or temperature: those controls are off for them
function methodShown() {
  const repair = $("mode").value === "repair";
  $("method-box").hidden = !repair;
  const off = repair && !app.state.model_methods.includes($("method").value);
  for (const id of ["prior", "temperature"]) {
    $(id).disabled = off;
    $(id).title = off ? `repair's ${$("method").value} draws no codes: no prior or temperature` : "";
  }
}
$("method").addEventListener("change", methodShown);

$("mode").addEventListener("change", () => {
  $("scale").value = $("mode").selectedOptions[0].dataset.scale; // each effect's own default
  methodShown();
  snap();
});
$("scale").addEventListener("change", snap);
$("strength").addEventListener("input", () => {
  $("strength-out").textContent = Number($("strength").value).toFixed(2);
});

function toggleHelp(show) {
  $("help").hidden = show === undefined ? !$("help").hidden : !show;
}
$("help-button").addEventListener("click", () => toggleHelp());
$("help-close").addEventListener("click", () => toggleHelp(false));

document.addEventListener("keydown", (event) => {
  const t = event.target;
  if (t.tagName === "INPUT" && t.type !== "range" && t.type !== "radio" && t.type !== "checkbox") return;
  if (t.tagName === "TEXTAREA" || t.tagName === "SELECT") return;
  const key = event.key;
  const lower = key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && lower === "z") {
    event.preventDefault();
    step(event.shiftKey ? "redo" : "undo");
  } else if ((event.ctrlKey || event.metaKey) && lower === "y") {
    event.preventDefault();
    step("redo");
  } else if (event.ctrlKey || event.metaKey || event.altKey) {
    return;
  } else if (key === " ") {
    event.preventDefault();
    togglePlay();
  } else if (key === "Enter" && !$("apply").disabled) {
    $("apply").click();
  } else if (lower === "p" && !$("preview").disabled) {
    preview();
  } else if (key === "Escape") {
    if (!$("help").hidden) toggleHelp(false);
    else if (app.busy) cancelWork();
    else if (app.state && app.state.preview) step("discard");
    else {
      app.selection = null;
      app.snapped = null;
      app.extra = [];
      updateSelection();
      draw();
    }
  } else if (key === "?") {
    toggleHelp();
  } else if (key === "+" || key === "=") {
    zoom(0.5);
  } else if (key === "-") {
    zoom(2);
  } else if (key === "]") {
    zoomFreq(0.5);
  } else if (key === "[") {
    zoomFreq(2);
  } else if (key === "0") {
    fitAll();
  } else if (lower === "a" || lower === "b") {
    document.querySelector(`input[name=ab][value=${lower === "a" ? "before" : "after"}]`).click();
  }
});

// -- start -----------------------------------------------------------------------------------------

async function start() {
  try {
    const state = await (await api("/api/state")).json();
    $("file").textContent =
      `${state.path}: ${state.seconds.toFixed(3)} s, ${state.rate} Hz, ${state.channels} ch, ` +
      `${state.format} ${state.subtype}; model ${state.model.name}` +
      (state.short ? ` (${state.short}: editing what is there)` : "");
    $("mode").replaceChildren();
    for (const effect of state.effects) {
      const option = document.createElement("option");
      option.value = effect.name;
      option.textContent = effect.name;
      option.title = effect.help;
      option.dataset.scale = effect.default_scale;
      $("mode").appendChild(option);
    }
    $("method").replaceChildren();
    for (const name of state.methods) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      $("method").appendChild(option);
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
    methodShown();
    app.view = { t0: 0, t1: state.seconds, b0: 0, b1: state.model.bands };
    app.pix = { before: emptyPicture(), after: emptyPicture() };
    app.ready = 0;
    buildLut();
    app.pixVersion = state.version;
    render();
    new ResizeObserver(() => resize()).observe($("view"));
    window.addEventListener("resize", resize);
    resize();
    setView(0, state.seconds, 0, state.model.bands);
    setPlayhead(0);
    updateSelection();
    status("ready");
    window.specblur.ready = true; // the page works from here; the picture arrives meanwhile
    await pictureLoop();
  } catch (error) {
    status(error.message, true);
  }
}

window.specblur = { app, player, ready: false, complete: false, renderPlot, waveColumns, cellRanges };
start();
