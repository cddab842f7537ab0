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
    page = browser.new_page(viewport={"width": 1240, "height": 900}, accept_downloads=True, bypass_csp=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(srv.url)
    page.wait_for_function("window.specblur && window.specblur.ready")
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
    t0, t1, f0, f1 = (S._decimal(v, p) for v, p in zip([*selection["time"], *selection["freq"]], (6, 6, 3, 3)))
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
    page = browser.new_page()  # under the page's own Content-Security-Policy (the other test bypasses it
    errors: list[str] = []  # because Playwright's wait_for_function evaluates strings)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
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
    page.locator("#mode").select_option("repair")
    page.locator("#load-labels").set_input_files(str(good))
    expect(page.locator("#status")).to_contain_text("applied 2 regions of good.txt")
    expect(page.locator("#history li")).to_have_count(1)
    assert "specblur repair" in page.locator("#command").input_value()
    assert [e for e in errors if "400" not in e] == []  # nothing but the refused label file
    page.close()
