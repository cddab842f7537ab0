"""``specblur edit``'s page in a real browser: headless Chromium (the distribution's ``chromium``
package, driven by Playwright) opens a file, drags a region on the spectrogram, applies, hears the
audio play, switches A/B, undoes and redoes, saves the labels and exports; the exported file is
checked as the command-line tests check theirs.

Chromium is required (tools/setup.sh installs it). Set SPECBLUR_SKIP_BROWSER=1 to skip these tests
on a machine without it; they never skip on their own.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from specblur import labels
from specblur.editor import server as S
from tests import containers as B
from tests.conftest import cli_in_process

if os.environ.get("SPECBLUR_SKIP_BROWSER") == "1":
    pytest.skip("SPECBLUR_SKIP_BROWSER=1", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} not found: install the distribution's chromium (tools/setup.sh does), "
        "or set SPECBLUR_SKIP_BROWSER=1 to skip the browser tests"
    )
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
        )
        yield chromium
        chromium.close()


@pytest.fixture()
def served(tiny_model: Path, tmp_path: Path):
    chunks = {"before": ((b"bext", b"b" * 64),), "after": ((b"LIST", b"y" * 8),)}
    built = B.riff(B.tone(3.0, 22050, 2), 22050, "PCM_16", **chunks)
    src = tmp_path / "take.wav"
    built.write(src)
    session = S.Session(src, tmp_path / "take.out.wav", "tiny")
    srv = S.open_server(0, session)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv, built
    srv.shutdown()
    srv.server_close()


def _drag(page: Page, t0: float, t1: float, f0: float, f1: float) -> None:
    """Drag on the canvas from (t0, f1) to (t1, f0), in the page's own axes."""
    box = page.locator("#spec").bounding_box()
    x0, y0, x1, y1 = page.evaluate(f"[tToX({t0}), hzToY({f1}), tToX({t1}), hzToY({f0})]")
    page.mouse.move(box["x"] + x0, box["y"] + y0)
    page.mouse.down()
    page.mouse.move(box["x"] + (x0 + x1) / 2, box["y"] + (y0 + y1) / 2, steps=3)
    page.mouse.move(box["x"] + x1, box["y"] + y1, steps=3)
    page.mouse.up()


def _differing_pixels(page: Page) -> int:
    """Cells of the spectrogram (and the waveform's rows) that differ between the page's before and after."""
    return page.evaluate(
        """() => {
        const {before, after} = window.specblur.app.pix;
        let n = 0;
        for (let i = 0; i < before.bytes.length; i++) if (before.bytes[i] !== after.bytes[i]) n++;
        return n;
    }"""
    )


def test_drag_apply_listen_undo_export(browser, served, tmp_path: Path, capsys) -> None:
    srv, built = served
    src, out = srv.session.path, srv.session.out
    raw = src.read_bytes()
    page, errors = _page(browser, viewport={"width": 1240, "height": 900}, accept_downloads=True, bypass_csp=True)
    page.goto(srv.url)
    page.wait_for_function("window.specblur && window.specblur.complete")
    expect(page.locator("#file")).to_contain_text("take.wav: 3.000 s, 22050 Hz, 2 ch")
    assert _differing_pixels(page) == 0

    # select on the picture: the server snaps it to code cells, the page shows it
    _drag(page, 1.0, 1.6, 300, 2500)
    expect(page.locator("#selection")).to_contain_text("(bottom cells)")
    # one set of numbers: the snapped cells' (the end one frame in, as snapping counts the frame after it)
    selection = page.evaluate("window.specblur.app.selection")
    snapped = page.evaluate("window.specblur.app.snapped")[-1]
    spec = srv.session.loaded.model.config.spectrogram
    frame = spec.hop_length / spec.sample_rate
    assert selection["time"][0] == pytest.approx(snapped["start"], abs=1e-6) and selection["time"][0] <= 1.0 + 0.01
    assert selection["time"][1] == pytest.approx(snapped["end"] - frame, abs=1e-6) and selection["time"][1] >= 1.55
    assert selection["freq"] == pytest.approx([snapped["low"], snapped["high"]], abs=1e-3)
    t0, t1, f0, f1 = (
        S._decimal(v, p) for v, p in zip([*selection["time"], *selection["freq"]], (6, 6, 3, 3), strict=True)
    )
    numbers = f"{t0}-{t1} s, {f0}-{f1} Hz"
    expect(page.locator("#selection")).to_contain_text(f"selection {numbers} (bottom cells)")
    assert page.locator("#t-start").input_value() == t0 and page.locator("#f-high").input_value() == f1

    page.locator("#seed").fill("4")
    page.locator("#apply").click()
    expect(page.locator("#status")).to_contain_text("applied in")
    expect(page.locator("#history li")).to_have_count(1)
    assert _differing_pixels(page) > 0  # the new spectrogram is drawn
    command = page.locator("#command").input_value()
    assert command.startswith("specblur blur ") and "--seed 4" in command
    assert f"--time {t0}-{t1} --freq {f0}-{f1} " in command  # the same numbers as the selection line
    expect(page.locator("#history li")).to_contain_text(f"blur {numbers}, seed 4")  # and the edit list
    outlined = page.evaluate("window.specblur.app.state.entries[0].snapped[0]")
    assert (outlined["frames"], outlined["bins"]) == (snapped["frames"], snapped["bins"])  # the cells outlined

    # listen: the selection loops, and sound reaches the output
    page.locator("#play").click()
    page.wait_for_function("window.specblur.player.playing && window.specblur.player.level() > 0.001", timeout=10000)
    loop = page.evaluate("window.specblur.player.loop")
    assert loop == pytest.approx([snapped["start"], snapped["end"]])
    page.locator("text=A: before").click()
    page.wait_for_function("window.specblur.app.which === 'before' && window.specblur.player.playing")
    page.wait_for_function("window.specblur.player.level() > 0.001", timeout=10000)
    assert _differing_pixels(page) > 0
    page.locator("#play").click()
    page.wait_for_function("!window.specblur.player.playing")
    page.locator("text=B: after").click()

    # undo, redo (keyboard), then export
    page.locator("#undo").click()
    expect(page.locator("#history li.undone")).to_have_count(1)
    page.wait_for_function("window.specblur.app.state.position === 0")
    page.locator("body").press("Control+Shift+Z")
    page.wait_for_function("window.specblur.app.state.position === 1")
    # the take heard was patched where undo and redo changed it, not fetched whole, and is the whole one
    page.wait_for_function("window.specblur.player.bufferVersion === window.specblur.app.state.version")
    assert page.evaluate("window.specblur.player.patchedFrames") > 0
    same = page.evaluate(
        """async () => {
        const p = window.specblur.player;
        const whole = await p.context.decodeAudioData(await (await api('/api/audio?which=after')).arrayBuffer());
        const held = p.buffers.after;
        if (held.length !== whole.length || held.sampleRate !== 22050) {
          return [held.length, whole.length, held.sampleRate];
        }
        for (let c = 0; c < whole.numberOfChannels; c++) {
          const a = held.getChannelData(c), b = whole.getChannelData(c);
          for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return [c, i, a[i], b[i], a[i] * 32768, b[i]*32768];
        }
        return true;
    }"""
    )
    assert same is True, same  # else: [channel, frame, held, whole, ...]
    with page.expect_download() as download:
        page.locator("#save-labels").click()
    saved = tmp_path / "saved.labels.txt"
    download.value.save_as(saved)
    (region,) = labels.read(saved)
    assert (region.start, region.end) == tuple(selection["time"])

    page.locator("#export").click()
    expect(page.locator("#status")).to_contain_text("exported")
    assert errors == []
    page.close()

    # the exported file, checked as the command-line tests check theirs
    assert src.read_bytes() == raw
    data = out.read_bytes()
    assert len(data) == len(raw) and data != raw
    end = built.offset + built.length
    assert data[: built.offset] == raw[: built.offset] and data[end:] == raw[end:]  # header, bext, LIST
    x_in = sf.read(io.BytesIO(raw), dtype="float64", always_2d=True)[0]
    x_out = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)[0]
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (22050, 2, "PCM_16", built.frames)
    changed = np.nonzero(np.any(x_out != x_in, axis=1))[0] / 22050
    assert changed.min() > snapped["start"] - 0.45 and changed.max() < snapped["end"] + 0.45
    # the command box's line and the saved labels, run by the CLI, write the same bytes
    args = command.split()[1:]
    args[2] = str(tmp_path / "cli.wav")
    assert cli_in_process(capsys, *args)[0] == 0
    assert (tmp_path / "cli.wav").read_bytes() == data
    code, err = cli_in_process(
        capsys, "blur", str(src), str(tmp_path / "lab.wav"), "--labels", str(saved), "-s", "4", "-m", "tiny"
    )
    assert code == 0, err
    assert (tmp_path / "lab.wav").read_bytes() == data


def test_errors_show_on_the_page_and_labels_load(browser, served, tmp_path: Path) -> None:
    srv, _ = served
    # under the page's own Content-Security-Policy (the other tests bypass it because Playwright's
    # wait_for_function evaluates strings)
    page, errors = _page(browser)
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(srv.url.replace("token=", "token=wrong"))
    expect(page.locator("#status")).to_contain_text("missing or wrong token")
    errors.clear()  # the refused requests' 403s, logged by the browser
    page.goto(srv.url)
    expect(page.locator("#status")).to_have_text("ready")
    bad = tmp_path / "bad.txt"
    bad.write_text("0.5\t0.5\tclick\n")
    page.locator("#load-labels").set_input_files(str(bad))
    expect(page.locator("#status")).to_contain_text("bad.txt:1: a point label")
    good = tmp_path / "good.txt"
    good.write_text("0.2\t0.6\ta\n\\\t100\t1000\n2.0\t2.5\tb\n")
    expect(page.locator("#method-box")).to_be_hidden()  # blur has no methods
    assert page.locator("#prior").is_enabled() and page.locator("#temperature").is_enabled()
    page.locator("#mode").select_option("repair")
    expect(page.locator("#method-box")).to_be_visible()
    assert page.locator("#method option").all_inner_texts() == list(S.REPAIR_METHODS)
    # the prior and temperature are for the methods that draw codes only
    assert page.locator("#prior").is_disabled() and page.locator("#temperature").is_disabled()  # auto
    page.locator("#method").select_option("texture")
    assert page.locator("#prior").is_enabled() and page.locator("#temperature").is_enabled()
    page.locator("#temperature").fill("1.5")
    page.locator("#method").select_option("interpolate")
    assert page.locator("#prior").is_disabled() and page.locator("#temperature").is_disabled()
    page.locator("#load-labels").set_input_files(str(good))
    expect(page.locator("#status")).to_contain_text("applied 2 regions of good.txt")
    expect(page.locator("#history li")).to_have_count(1)
    command = page.locator("#command").input_value()
    assert "specblur repair" in command and "--method interpolate" in command and "-T" not in command
    assert [r["method"] for r in srv.session.entries[0].snapped] == ["interpolate", "interpolate"]
    # a declick of a typed selection: the edit list says how many clicks it mended
    page.locator("#method").select_option("declick")
    for field, value in (("#t-start", "0.2"), ("#t-end", "2.6")):
        page.locator(field).fill(value)
        page.locator(field).dispatch_event("change")
    expect(page.locator("#apply")).to_be_enabled()
    page.locator("#apply").click()
    expect(page.locator("#history li")).to_have_count(2)
    part = srv.session.entries[1].snapped[0]
    assert part["method"] == "declick" and isinstance(part["clicks"], int)
    n = part["clicks"]
    expect(page.locator("#history li").nth(1)).to_contain_text(f"[declick: {n} click{'' if n == 1 else 's'}]")
    assert [e for e in errors if "400" not in e] == []  # nothing but the refused label file
    page.close()


def test_a_file_cut_short_says_so_on_the_page(browser, tiny_model: Path, tmp_path: Path) -> None:
    """The page's file line says what the command line warns of a file that holds less than its header
    promises (here a WAV cut short), and the picture is of what is there."""
    full = tmp_path / "full.wav"
    sf.write(full, B.tone(2.0, 22050, 2), 22050, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: 44 + 4 * 33075])  # 1.5 of its 2 s
    srv = _serve(S.Session(cut, tmp_path / "o.wav", "tiny"))
    try:
        page, errors = _page(browser)
        page.goto(srv.url)
        expect(page.locator("#file")).to_contain_text("cut.wav: 1.500 s")
        expect(page.locator("#file")).to_contain_text(
            "(file cut short: its header promises 2.000 s, it holds 1.500 s: editing what is there)"
        )
        assert errors == []
        page.close()
    finally:
        srv.shutdown()
        srv.server_close()


def test_the_edit_list_says_what_was_held_under_full_scale(browser, tiny_model: Path, tmp_path: Path) -> None:
    """A blur of a 16-bit file at full scale goes over it: the page's edit list says how many samples
    were held under it and the deepest dip, the command line's numbers (as it says a declick's count)."""
    t = np.arange(int(2.0 * 16000)) / 16000
    x = np.clip(6 * np.sin(2 * np.pi * 200 * t) * np.sin(2 * np.pi * 0.5 * t + 0.3), -1, 1)
    src = tmp_path / "loud.wav"
    sf.write(src, np.stack([x, 0.8 * x], axis=1), 16000, subtype="PCM_16")
    session = S.Session(src, tmp_path / "o.wav", "tiny")
    session.apply([S.parse_options({"time": [0.3, 1.0], "temperature": 4, "seed": 1})])
    held = session.entries[0].snapped[0]["held"]
    assert held and held["frames"] > 0, "the blur went over nowhere: nothing to show"
    srv = _serve(session)
    try:
        page, errors = _page(browser)
        page.goto(srv.url)
        expect(page.locator("#history li")).to_have_count(1)
        expect(page.locator("#history li").first).to_contain_text(
            f"[{held['frames']} over full scale: held by dips of up to {held['db']:.1f} dB]"
        )
        assert errors == []
        page.close()
    finally:
        srv.shutdown()
        srv.server_close()


# -- issue 22: a picture you can trust, the gestures of a spectral editor ----------------------------


def _page(browser, **options):
    """A new page and the list its script errors are collected in (tests assert it stays empty)."""
    page = browser.new_page(**options)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def _serve(session: S.Session):
    srv = S.open_server(0, session)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return srv


def test_the_picture_keeps_peaks_follows_the_window_and_labels_fit(browser, tiny_model: Path, tmp_path: Path) -> None:
    """70 s of a quiet tone with the same short noise burst every 0.37 s (an interval no column or
    pixel grid divides), shown whole on a narrow, high-DPI window: many columns per pixel. Every
    burst is as bright in the overview as in the picture's own cells (a decimated overview loses
    some and makes bands that are not in the sound); the gaps stay dark."""
    rate, period = 16000, 0.37
    n = int(70 * rate)
    x = 0.01 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)
    burst = np.random.default_rng(1).standard_normal(128) * 0.5
    starts = [int(k * period * rate) for k in range(1, int(69 / period))]
    for s in starts:
        x[s : s + 128] += burst
    src = tmp_path / "bursts.wav"
    sf.write(src, x, rate, subtype="PCM_16")
    srv = _serve(S.Session(src, tmp_path / "o.wav", "tiny"))
    page, errors = _page(browser, viewport={"width": 800, "height": 640}, device_scale_factor=2, bypass_csp=True)
    try:
        page.goto(srv.url)
        page.wait_for_function("window.specblur && window.specblur.complete")
        size = page.evaluate("window.specblur.app.size")
        width, height = page.evaluate("[document.getElementById('spec').width, document.getElementById('spec').height]")
        assert size["dpr"] == 2 and size["w"] <= 800 - 16 and (width, height) == (2 * size["w"], 2 * size["h"])
        assert page.evaluate("document.documentElement.scrollWidth") <= 800  # nothing overflows the window
        # each burst's brightest pixel in the overview, at the screen columns around its time
        found = page.evaluate(
            """([starts, rate]) => {
            const app = window.specblur.app;
            const image = app.rendered.image;
            const dpr = app.size.dpr;
            const p = plotBox();
            const index = new Map();
            PALETTE32.forEach((c, v) => index.set(c, v));
            const px = new Uint32Array(image.data.buffer);
            const value = (x, y) => index.get(px[y * image.width + x]);
            const rows = [0.3, 0.5, 0.7].map((f) => Math.round(image.height * f));
            const at = (t) => Math.floor((tToX(t) - p.x) * dpr);
            const peaks = [], gaps = [];
            for (const s of starts) {
              const x = at((s + 64) / rate);
              let m = 0;
              for (let dx = -3; dx <= 3; dx++) for (const y of rows) m = Math.max(m, value(x + dx, y));
              peaks.push(m);
              let g = 0;
              for (const y of rows) g = Math.max(g, value(at(s / rate + 0.185), y));
              gaps.push(g);
            }
            return {peaks, gaps, perPixel: app.state.image.width / image.width};
        }""",
            [starts, rate],
        )
        assert found["perPixel"] > 3  # the overview shrinks the picture
        _, headers, data = request_image(srv)
        cols, rows = int(headers["X-Width"]), int(headers["X-Height"])
        # the picture's bytes (dB on a fixed scale), as the page colours them (its palette's index)
        lut = np.array(page.evaluate("Array.from(window.specblur.app.lutIndex)"), np.uint8)
        image = lut[np.frombuffer(data, np.uint8).reshape(rows, cols)[:-2]]
        hop = srv.session.loaded.model.config.spectrogram.hop_length
        band_rows = [round(image.shape[0] * f) for f in (0.3, 0.5, 0.7)]  # about the rows looked at
        truth = [
            int(image[band_rows[0] - 2 : band_rows[-1] + 3, max(0, s // hop - 6) : s // hop + 8].max()) for s in starts
        ]
        assert min(found["peaks"]) >= min(truth) - 12  # no burst lost (decimation keeps ~1 column in 6)
        assert max(found["gaps"]) < min(found["peaks"]) - 40  # and no band between them
        # m:ss labels on a long file, none cut off by the canvas's edges
        labels = page.evaluate("window.specblur.app.timeLabels")
        assert len(labels) >= 3 and all(re.fullmatch(r"\d+:\d\d", lab["text"]) for lab in labels)
        assert all(lab["left"] >= 0 and lab["right"] <= size["w"] for lab in labels)
        assert labels[-1]["t"] >= 60
        # the waveform lane shows every burst too
        lows, highs = page.evaluate("window.specblur.waveColumns(window.specblur.app.pix.after, 400)")
        assert max(highs.values() if isinstance(highs, dict) else highs) > 128 + 40
        # the canvas follows the window
        page.set_viewport_size({"width": 1300, "height": 800})
        page.wait_for_function("window.specblur.app.size.w > 1200 && window.specblur.app.size.h > 300")
        assert page.evaluate("document.getElementById('spec').width") == 2 * page.evaluate("window.specblur.app.size.w")
        assert errors == []
    finally:
        page.close()
        srv.shutdown()
        srv.server_close()


def request_image(srv: S.Server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("GET", "/api/image?which=after", headers={S.TOKEN_HEADER: srv.token})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.headers, data


def test_gestures_preview_several_selections_and_export_as(browser, served, tmp_path: Path) -> None:
    srv, _ = served
    session = srv.session
    page, errors = _page(browser, viewport={"width": 1240, "height": 900}, bypass_csp=True)
    page.goto(srv.url)
    page.wait_for_function("window.specblur && window.specblur.complete")
    # the keys and gestures, on the page
    page.locator("body").press("?")
    expect(page.locator("#help")).to_be_visible()
    expect(page.locator("#help")).to_contain_text("Shift+drag")
    page.locator("body").press("Escape")
    expect(page.locator("#help")).to_be_hidden()

    # typed numbers make the selection; the server snaps them and the fields take the snapped ones
    for field, value in (("#t-start", "0.5"), ("#t-end", "1.2"), ("#f-low", "200"), ("#f-high", "2000")):
        page.locator(field).fill(value)
        page.locator(field).dispatch_event("change")
    page.wait_for_function(
        "(() => { const a = window.specblur.app; return a.snapped && a.selection.freq[1] !== null })()"
    )
    typed = page.evaluate("window.specblur.app.selection")
    assert typed["time"][0] <= 0.5 and typed["time"][1] >= 1.1 and typed["freq"][0] <= 200
    assert page.locator("#t-start").input_value() == S._decimal(typed["time"][0])
    # Shift+drag adds a second selection
    page.keyboard.down("Shift")
    _drag(page, 2.0, 2.6, 1000, 4000)
    page.keyboard.up("Shift")
    page.wait_for_function("window.specblur.app.extra.length === 1 && window.specblur.app.snapped !== null")
    expect(page.locator("#selection")).to_contain_text("+ 1 more")

    # preview: heard and seen, not kept; Enter keeps it
    page.evaluate("document.activeElement.blur()")  # keys go to the page, not to the last field typed in
    page.locator("body").press("p")
    page.wait_for_function("window.specblur.app.state.preview === true && !window.specblur.app.busy")
    expect(page.locator("#history li.preview")).to_have_count(1)
    assert _differing_pixels(page) > 0 and page.locator("#command").input_value().startswith("# apply")
    assert page.evaluate("window.specblur.app.state.entries[0].snapped.length") == 2  # both outlined
    page.locator("body").press("Enter")
    page.wait_for_function("window.specblur.app.state.preview === false && window.specblur.app.state.position === 1")
    assert len(session.entries) == 1 and len(session.entries[0].regions) == 2
    assert "--labels take.labels.txt" in page.locator("#command").input_value()
    # the patched picture is the one drawn from scratch
    assert page.evaluate(
        """() => { const a = window.specblur.app; const img = a.rendered.image;
        const fresh = window.specblur.renderPlot(a.pix.after, img.width, img.height);
        return img.data.every((v, i) => v === fresh.data[i]); }"""
    )

    # frequency zoom, and back
    bands = page.evaluate("window.specblur.app.state.model.bands")
    page.locator("body").press("]")
    page.wait_for_function(f"window.specblur.app.view.b1 - window.specblur.app.view.b0 === {bands / 2}")
    page.locator("body").press("0")
    page.wait_for_function(f"window.specblur.app.view.b1 - window.specblur.app.view.b0 === {bands}")

    # a click sets the playhead; Space plays from it
    page.locator("#loop").uncheck()
    box = page.locator("#spec").bounding_box()
    x, y = page.evaluate("[tToX(2.25), hzToY(500)]")
    page.mouse.click(box["x"] + x, box["y"] + y)
    playhead = page.evaluate("window.specblur.app.playhead")
    assert abs(playhead - 2.25) < 0.02 and page.evaluate("window.specblur.app.extra.length") == 1
    page.locator("body").press(" ")
    page.wait_for_function("window.specblur.player.playing")
    assert page.evaluate("window.specblur.player.offset") == playhead
    page.locator("body").press(" ")
    page.wait_for_function("!window.specblur.player.playing")

    # OUT changed by someone else: Export refuses, Export as... writes a typed name
    page.locator("#export").click()
    expect(page.locator("#status")).to_contain_text("exported")
    session.out.write_bytes(b"someone else's")
    page.locator("#export").click()
    expect(page.locator("#status")).to_contain_text("changed since this editor wrote it")
    expect(page.locator("#status")).to_contain_text("Export as")
    page.locator("#export-as").click()
    page.locator("#export-name").fill("renamed.wav")
    page.locator("#export-write").click()
    expect(page.locator("#status")).to_contain_text("renamed.wav")
    assert (session.path.parent / "renamed.wav").is_file() and session.out.name == "renamed.wav"
    assert (tmp_path / "take.out.wav").read_bytes() == b"someone else's"

    # long work shows its progress and stops on Cancel, leaving the edits as they were
    many = tmp_path / "many.txt"
    many.write_text(
        labels.dumps([labels.Label(0.1 + (i % 25) * 0.1, 0.3 + (i % 25) * 0.1, 200, 3000, "r") for i in range(3000)])
    )
    page.locator("#load-labels").set_input_files(str(many))
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("of 3000 regions")
    page.locator("#cancel").click()
    expect(page.locator("#status")).to_contain_text("cancelled after")
    assert page.evaluate("window.specblur.app.state.position") == 1 and len(session.entries) == 1
    assert errors == []
    page.close()


def test_a_long_file_shows_at_once_and_its_picture_arrives_while_editing(
    browser, tiny_model: Path, tmp_path: Path, monkeypatch
) -> None:
    """The page works before the picture is whole: the columns made so far are drawn, the rest grey
    with a note of how far it is; a region selected and applied meanwhile is kept; when the rest
    arrives the page holds the whole picture, before and after, as the server makes it anew."""
    rate = 16000
    t = np.arange(150 * rate) / rate
    x = 0.2 * np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    x += 0.01 * np.random.default_rng(0).standard_normal(len(t))
    src = tmp_path / "long.wav"
    sf.write(src, x, rate, subtype="PCM_16")
    block, gate = S.Session._block, threading.Event()

    def gated(self, which, c0, c1, check):  # the picture's first two blocks, then the test's signal
        if which == "before" and c0 >= 2 * S.IMAGE_BLOCK:
            assert gate.wait(120)
        return block(self, which, c0, c1, check)

    monkeypatch.setattr(S.Session, "_block", gated)
    session = S.Session(src, tmp_path / "o.wav", "tiny")
    srv = _serve(session)
    page, errors = _page(browser, viewport={"width": 1240, "height": 900}, bypass_csp=True)
    try:
        page.goto(srv.url)
        page.wait_for_function(f"window.specblur.ready && window.specblur.app.ready === {2 * S.IMAGE_BLOCK}")
        expect(page.locator("#picture-note")).to_contain_text("% made")
        page.wait_for_function("window.specblur.app.rendered !== null")
        made, grey = page.evaluate(
            """() => { const a = window.specblur.app; const img = a.rendered.image;
            const px = new Uint32Array(img.data.buffer); const y = Math.floor(img.height / 2);
            return [px[y * img.width + 2], px[y * img.width + img.width - 3]].map((c) => c === GREY32); }"""
        )
        assert (made, grey) == (False, True)
        assert not page.evaluate("window.specblur.complete")
        # select and apply meanwhile: in the part drawn, and in the part not made yet
        for t0 in (2.0, 120.0):
            _drag(page, t0, t0 + 1.0, 300, 2500)
            page.wait_for_function("window.specblur.app.snapped !== null")
            version = page.evaluate("window.specblur.app.state.version")
            page.locator("#apply").click()
            page.wait_for_function(f"window.specblur.app.state.version === {version + 1} && !window.specblur.app.busy")
        assert session.ready == 2 * S.IMAGE_BLOCK and len(session.entries) == 2
        gate.set()
        page.wait_for_function("window.specblur.complete", timeout=60000)
        expect(page.locator("#picture-note")).to_be_hidden()
        for which in ("before", "after"):
            held = np.array(page.evaluate(f"Array.from(window.specblur.app.pix.{which}.bytes)"), np.uint8)
            db, peaks = session._picture(which, 0, session.columns)
            assert np.array_equal(held, np.concatenate([session._bytes(db), peaks]).ravel()), which
        assert _differing_pixels(page) > 0
        assert page.evaluate(
            """() => { const a = window.specblur.app; draw(); const img = a.rendered.image;
            const fresh = window.specblur.renderPlot(a.pix.after, img.width, img.height);
            return img.data.every((v, i) => v === fresh.data[i]); }"""
        )
        assert errors == []
    finally:
        gate.set()
        page.close()
        srv.shutdown()
        srv.server_close()


def test_a_long_blur_shows_its_tiles_and_cancels(browser, tiny_model: Path, tmp_path: Path, monkeypatch) -> None:
    """A blur of a region the command line does in tiles: the page shows "N of M tiles" as they are
    done, Cancel stops it between two and nothing is kept; applied to its end, the command box has
    the one command that gives it."""
    from specblur.edit import tiles

    rate = 16000
    t = np.arange(int((tiles.LONG_SECONDS + 10) * rate)) / rate
    x = 0.2 * np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    src = tmp_path / "long.wav"
    sf.write(src, x + 0.01 * np.random.default_rng(0).standard_normal(len(t)), rate, subtype="PCM_16")
    run_tile, hold = tiles.run_tile, threading.Event()

    def held(loaded, segment, rate, where, options, tile, after, **kw):  # the second tile waits for the test
        if tile.index == 1:
            assert hold.wait(120)
        return run_tile(loaded, segment, rate, where, options, tile, after, **kw)

    monkeypatch.setattr(S.tiles, "run_tile", held)
    session = S.Session(src, tmp_path / "o.wav", "tiny")
    srv = _serve(session)
    page, errors = _page(browser, viewport={"width": 1240, "height": 900}, bypass_csp=True)
    try:
        page.goto(srv.url)
        page.wait_for_function("window.specblur && window.specblur.complete")
        for field, value in (("#t-end", str(tiles.LONG_SECONDS + 8)), ("#t-start", "1")):
            page.locator(field).fill(value)
            page.locator(field).dispatch_event("change")
        page.wait_for_function(
            "(() => { const a = window.specblur.app; return a.snapped && a.selection.time[0] > 0.5"
            f" && a.selection.time[1] > {tiles.LONG_SECONDS + 7}; }})()"
        )
        page.locator("#apply").click()
        expect(page.locator("#status")).to_contain_text(re.compile(r"apply: 1 of \d+ tiles"))
        expect(page.locator("#progress")).to_be_visible()
        page.locator("#cancel").click()
        hold.set()
        expect(page.locator("#status")).to_contain_text(re.compile(r"cancelled after 1 of \d+ tiles; nothing changed"))
        assert page.evaluate("window.specblur.app.state.position") == 0 and session.entries == []
        page.locator("#apply").click()
        expect(page.locator("#status")).to_contain_text("applied in")
        one_command = re.compile(r"^specblur blur \S+ \S+ --time [\d.]+-[\d.]+ -m tiny$")
        expect(page.locator("#command")).to_have_value(one_command)
        assert session.entries[0].tiled == [True]
        assert errors == []
    finally:
        hold.set()
        page.close()
        srv.shutdown()
        srv.server_close()
