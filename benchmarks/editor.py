"""specblur edit on a long file: opening, Apply, undo and redo to the new picture, memory, how fast work stops.

Apply, undo and redo are timed to the new picture in the browser; the server's peak memory is read.

On a 10-minute 44.1 kHz stereo 16-bit WAV (tones and a little noise), ``specblur edit`` runs as a
process (as a user starts it) and the page runs in headless Chromium (the distribution's, driven
by Playwright, as the browser tests do). Five times, a 1 s x 200-2000 Hz region at another place
of the file is selected and Applied, then undone and redone; each is timed on the page from the
click to the new picture drawn (the page redraws only the columns the edit touched: the server
sends just those). The reference, measured in the same run: the whole picture made again (what
each Apply cost before issue 22: the server's spectrogram of the whole file, in process here, plus
the page fetching and drawing all of it). Before that, the opening: from the command's start to its
URL printed, and on the page from loading it to the page usable (the picture's first blocks drawn) and
to the whole picture drawn (made by the server in blocks, the page drawing each as it arrives). After
them, a blur of the whole file (done in tiles, as the command line does) is started and cancelled
once two tiles are done (time from Cancel to the answer, nothing kept). Then a label file of 2000 regions is loaded and
cancelled after a second (time from Cancel to the page free), another is loaded and the server is
sent SIGTERM (time to the process's exit); the server's peak resident memory (VmHWM) is read just
before. A second server is then sent SIGTERM half a second into a whole-file blur's second tile.
Targets (issue 22): Apply to new picture <= 300 ms, server under 400 MB, stops within a
second. Run: ``python benchmarks/editor.py [--repeat 5] [--whole]`` (``--whole``: also a whole-file
blur to its end, timed, with the server's peak memory after it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import parser, report, table, tone_file, verdict

SECONDS, RATE, CHANNELS = 600.0, 44100, 2
REGIONS = 2000


def _vm(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


STEP_JS = """async ([button, regionStart]) => {
  const app = window.specblur.app;
  if (regionStart !== null) {
    app.selection = {time: [regionStart, regionStart + 1], freq: [200, 2000]};
    app.snapped = null;
    await snap();
  }
  const version = app.state.version;
  const started = performance.now();
  document.getElementById(button).click();
  while (!(app.state.version > version && app.drawnVersion === app.state.version && !app.busy)) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const entry = app.state.entries[Math.max(0, app.state.position - 1)];
  return [app.pictureAt - started, entry.ms];
}"""

FULL_JS = """async () => {
  const started = performance.now();
  await loadPicture("after");
  window.specblur.app.rendered = null;
  draw();
  return performance.now() - started;
}"""

WHOLE_JS = """async () => {
  window.specblur.wholeAnswer_done = false;
  window.specblur.progress = null;
  const answer = api("/api/apply", {method: "POST", body: {time: [0, window.specblur.app.state.seconds]}}).then(
    async (response) => { await refresh(await response.json()); return "finished"; }, (error) => error.message);
  window.specblur.wholeAnswer = answer.then((a) => { window.specblur.wholeAnswer_done = true; return a; });
  (async () => {
    while (!window.specblur.wholeAnswer_done) {
      window.specblur.progress = await (await api("/api/progress")).json();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return true;
}"""

CANCEL_JS = """async () => {
  const t = performance.now();
  await api('/api/cancel', {method: 'POST', body: {}});
  const answer = await window.specblur.wholeAnswer;
  return [performance.now() - t, answer, window.specblur.progress.total];
}"""

LABELS_JS = """async ([text]) => {
  const body = Object.assign(settings(), {text, name: "many.txt"});
  const answer = api("/api/labels", {method: "POST", body}).then(
    () => "finished", (error) => error.message);
  window.specblur.labelsAnswer = answer;
  return true;
}"""


def _sigterm_mid_tile(proc: subprocess.Popen, url: str) -> float:
    """ms from SIGTERM to the server's exit, sent half a second into the second tile of a whole-file
    blur started with a plain HTTP request (no page)."""
    import json
    import threading
    import urllib.error
    import urllib.request
    from urllib.parse import parse_qs, urlparse

    parts = urlparse(url)
    token = parse_qs(parts.query)["token"][0]
    base = f"{parts.scheme}://{parts.netloc}"

    def call(path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        headers = {"X-Specblur-Token": token, "Content-Type": "application/json"}
        with urllib.request.urlopen(urllib.request.Request(base + path, data, headers), timeout=600) as r:
            return json.loads(r.read())

    def whole() -> None:
        try:
            call("/api/apply", {"time": [0, SECONDS]})
        except (urllib.error.URLError, ConnectionError, OSError):
            pass  # the server stopped under it: what is measured

    threading.Thread(target=whole, daemon=True).start()
    while call("/api/progress").get("done", 0) < 1:
        time.sleep(0.02)
    time.sleep(0.5)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    return (time.perf_counter() - sent) * 1000


def main() -> None:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--whole", action="store_true", help="also blur the whole file to its end")
    args = options.parse_args()
    from playwright.sync_api import sync_playwright

    import specblur
    from specblur import labels

    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    src = tone_file(work / "long.wav", SECONDS, RATE, CHANNELS)
    model = ["-m", args.model] if args.model else []
    text = labels.dumps([labels.Label(1.0 + i * 0.25, 1.2 + i * 0.25, 300.0, 3000.0, "r") for i in range(REGIONS)])
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    results: dict[str, float] = {}

    def start_server() -> tuple[subprocess.Popen, str, float]:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "specblur", "edit", str(src), "--out", str(work / "out.wav"), "--force",
             "--no-browser", "--port", "0", *model],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        url = ""
        while not url:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit(f"specblur edit did not start: {proc.stderr.read() if proc.stderr else ''}")
            if "http://" in line:
                url = line.strip()
        return proc, url, time.perf_counter() - started

    proc, url, opened = start_server()
    results["open: command to URL"] = opened * 1000
    applies, undos, redos, server_ms, fulls = [], [], [], [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 800}, bypass_csp=True)
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_function(
                "window.specblur && window.specblur.ready && window.specblur.app.ready > 0", timeout=120000, polling=5
            )
            results["open: page usable, first columns drawn"] = (time.perf_counter() - started) * 1000
            page.wait_for_function("window.specblur.complete", timeout=300000, polling=20)
            results["open: whole picture drawn"] = (time.perf_counter() - started) * 1000
            for i in range(args.repeat):
                at = 30.0 + i * (SECONDS - 60.0) / max(1, args.repeat - 1)
                ms, server = page.evaluate(STEP_JS, ["apply", at])
                applies.append(ms)
                server_ms.append(server)
                undos.append(page.evaluate(STEP_JS, ["undo", None])[0])
                redos.append(page.evaluate(STEP_JS, ["redo", None])[0])
                fulls.append(page.evaluate(FULL_JS))
            page.evaluate("async () => (await api('/api/audio?which=after')).arrayBuffer().then((b) => b.byteLength)")
            # a blur of the whole file, in tiles: cancelled once two are done
            page.evaluate(WHOLE_JS)
            page.wait_for_function(
                "(window.specblur.progress || {}).unit === 'tiles' && window.specblur.progress.done >= 2",
                timeout=300000,
                polling=20,
            )
            cancelled = page.evaluate(CANCEL_JS)
            results["whole-file blur: tiles"] = cancelled[2]
            results["whole-file blur: Cancel to the answer"] = cancelled[0]
            results["whole-file blur: cancel answer"] = cancelled[1]
            if args.whole:
                started = time.perf_counter()
                page.evaluate(WHOLE_JS)
                page.wait_for_function("window.specblur.wholeAnswer_done", timeout=3600000, polling=100)
                results["whole-file blur, to the answer"] = (time.perf_counter() - started) * 1000
                page.wait_for_function("window.specblur.complete", timeout=600000, polling=50)
                results["whole-file blur, to its whole picture drawn"] = (time.perf_counter() - started) * 1000
                results["whole-file blur: server peak memory (MB)"] = _vm(proc.pid, "VmHWM")
                page.evaluate("async () => { await api('/api/undo', {method: 'POST', body: {}}); }")
            # a label file of many regions, cancelled
            page.evaluate(LABELS_JS, [text])
            page.wait_for_function("window.specblur.app.busy || true")
            time.sleep(1.0)
            cancelled = page.evaluate(
                """async () => { const t = performance.now(); await api('/api/cancel', {method: 'POST', body: {}});
                   const answer = await window.specblur.labelsAnswer; return [performance.now() - t, answer]; }"""
            )
            results["Cancel to the page free (2000-region label file)"] = cancelled[0]
            results["cancel answer"] = cancelled[1]
            peak = _vm(proc.pid, "VmHWM")
            # another, and SIGTERM while it runs
            page.evaluate(LABELS_JS, [text])
            time.sleep(1.0)
            sent = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            results["SIGTERM to exit, mid label file"] = (time.perf_counter() - sent) * 1000
            browser.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # SIGTERM while a tile of a whole-file blur is in flight (the longest single step there is)
    proc, url, _ = start_server()
    try:
        results["SIGTERM to exit, mid whole-file blur tile"] = _sigterm_mid_tile(proc, url)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    leftovers = sorted(p.name for p in work.iterdir() if p.name not in ("long.wav", "out.wav"))
    results["files left besides IN and OUT"] = len(leftovers)

    # the reference's server half: the whole file's picture made again, in this process
    from specblur.editor import server as S

    loaded = specblur.load_model(args.model)
    session = S.Session(src, work / "ref.wav", loaded, force=True)
    session.wait_picture()  # (its own, made in the background: not at the same time as the reference)
    started = time.perf_counter()
    session._bytes(session._picture("after", 0, session.columns)[0])
    full_server = (time.perf_counter() - started) * 1000

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    full = full_server + median(fulls)
    rows = [
        ["Apply, click to new picture", median(applies), median(server_ms), median(applies) / full],
        ["Undo, click to new picture", median(undos), "", median(undos) / full],
        ["Redo, click to new picture", median(redos), "", median(redos) / full],
        ["reference: the whole picture again", full, full_server, 1.0],
    ]
    text_out = table(
        f"specblur edit on a {SECONDS / 60:g}-minute {RATE / 1000:g} kHz stereo file (median ms of {args.repeat}; "
        "ratio: / the whole picture again, measured in this run)",
        ["step", "page: click to picture", "of which the edit (server)", "ratio"],
        rows,
    )
    size_mb = os.path.getsize(src) / 2**20
    samples_mb = SECONDS * RATE * CHANNELS * 8 / 2**20
    text_out += "\n\n" + table(
        "the server process",
        ["measure", "value"],
        [
            ["file size (MB)", size_mb],
            ["its samples as float64, once (MB)", samples_mb],
            ["peak resident memory, VmHWM (MB)", peak],
            ["open: command to URL (ms)", results["open: command to URL"]],
            ["open: page loaded to usable, first columns drawn (ms)",
             results["open: page usable, first columns drawn"]],
            ["open: page loaded to the whole picture drawn (ms)", results["open: whole picture drawn"]],
            [f"whole-file blur ({results['whole-file blur: tiles']} tiles): Cancel after 2 to the answer (ms)",
             results["whole-file blur: Cancel to the answer"]],
            [
                "Cancel to the page free, 2000-region label file (ms)",
                results["Cancel to the page free (2000-region label file)"],
            ],
            ["SIGTERM to exit, mid label file (ms)", results["SIGTERM to exit, mid label file"]],
            ["SIGTERM to exit, mid whole-file blur tile (ms)", results["SIGTERM to exit, mid whole-file blur tile"]],
            ["files left besides IN and OUT", results["files left besides IN and OUT"]],
        ],
    )  # fmt: skip
    if args.whole:
        text_out += "\n\n" + table(
            "a blur of the whole file, in tiles",
            ["measure", "value"],
            [[k, v] for k, v in results.items() if k.startswith("whole-file blur") and ":" not in k or "peak" in k],
        )
    ok_apply = median(applies) <= 300
    ok_memory = peak < 400
    ok_stop = (
        max(results["SIGTERM to exit, mid label file"], results["SIGTERM to exit, mid whole-file blur tile"]) <= 1000
        and not leftovers
    )
    text_out += (
        f"\n\ntarget: Apply to new picture <= 300 ms: {verdict(ok_apply)}; server under 400 MB: {verdict(ok_memory)}; "
        f"SIGTERM stops it within a second, nothing partial left: {verdict(ok_stop)}"
    )
    results.update(
        apply_ms=median(applies), undo_ms=median(undos), redo_ms=median(redos), apply_server_ms=median(server_ms),
        full_ms=full, full_server_ms=full_server, peak_mb=peak,
    )  # fmt: skip
    report("editor", text_out, results, args.json)


if __name__ == "__main__":
    main()
