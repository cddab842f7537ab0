"""Take the README's screenshot of ``specblur edit`` with Playwright and the system's Chromium.

``python tools/editor_screenshot.py [--out docs/img/edit.png] [--input examples/note.wav]
[--time 1.0-2.0] [--freq 200-2000]``: opens the editor on the input with the bundled default model,
drags the region on the spectrogram, applies a blur and saves a 1200x700 screenshot of the "after"
view (the applied edit outlined, the waveform lane, the dB scale, the snapped numbers in the fields).
The README's: ``--input /usr/share/sonic-pi/samples/guit_em9.flac --freq 2000-16000``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "edit.png")
    parser.add_argument("--input", type=Path, default=ROOT / "examples" / "note.wav")
    parser.add_argument("--time", default="1.0-2.0", help="START-END in seconds")
    parser.add_argument("--freq", default="200-2000", help="LOW-HIGH in Hz")
    args = parser.parse_args()
    t0, t1 = (float(v) for v in args.time.split("-"))
    f0, f1 = (float(v) for v in args.freq.split("-"))
    args.out = args.out.resolve()
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    from specblur.editor import server as S

    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # short names on the page: note.wav -> note.edited.wav
        shutil.copy(args.input.resolve(), args.input.name)
        session = S.Session(Path(args.input.name), None, None)
        session.warm_up()  # as 'specblur edit' does while the browser opens
        srv = S.open_server(0, session)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=["--no-sandbox"]
                )
                page = browser.new_page(viewport={"width": 1200, "height": 700}, bypass_csp=True)
                page.goto(srv.url)
                page.wait_for_function("window.specblur && window.specblur.complete")  # the whole picture
                box = page.locator("#spec").bounding_box()
                x0, y0, x1, y1 = page.evaluate(f"[tToX({t0}), hzToY({f1}), tToX({t1}), hzToY({f0})]")
                page.mouse.move(box["x"] + x0, box["y"] + y0)
                page.mouse.down()
                page.mouse.move(box["x"] + x1, box["y"] + y1, steps=5)
                page.mouse.up()
                page.wait_for_function("window.specblur.app.snapped !== null")
                page.locator("#apply").click()
                page.wait_for_function(
                    "window.specblur.app.state.position === 1 && !window.specblur.app.busy"
                    " && window.specblur.app.drawnVersion === window.specblur.app.state.version"
                )
                # the playhead somewhere visible, so that the picture shows it too
                page.evaluate(f"setPlayhead({(t0 + t1) / 2})")
                png = page.screenshot()
                browser.close()
        finally:
            srv.shutdown()
            srv.server_close()
    import io

    from PIL import Image

    # 256 colours: a third of the size, no visible change for a flat page and a colour map
    Image.open(io.BytesIO(png)).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
