"""``specblur edit`` without a browser: the session (apply, undo, redo, export, labels) and the HTTP
server's guards (token, Host header, the page's own files only, bounded bodies, 4xx with a message),
IN never written, Ctrl-C, and no torch. The page itself is driven in tests/test_editor_browser.py."""

from __future__ import annotations

import http.client
import io
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from specblur.editor import server as S
from specblur.errors import UsageError
from tests import containers as B
from tests.conftest import cli_in_process, sigint_default, tone


@pytest.fixture()
def stereo(tmp_path: Path) -> Path:
    """A 24-bit stereo WAV with chunks before and after the samples."""
    chunks = {"before": ((b"bext", b"b" * 64),), "after": ((b"LIST", b"x" * 10),)}
    built = B.riff(B.tone(3.0, 22050, 2), 22050, "PCM_24", **chunks)
    path = tmp_path / "take.wav"
    built.write(path)
    return path


@pytest.fixture()
def running(tiny_model: Path, stereo: Path, tmp_path: Path):
    """A server on a free port in this process, for one session of ``stereo``."""
    session = S.Session(stereo, tmp_path / "out.wav", "tiny")
    srv = S.open_server(0, session)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(srv: S.Server, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    base = {"Host": f"127.0.0.1:{srv.port}", S.TOKEN_HEADER: srv.token}
    base.update(headers or {})
    base = {k: v for k, v in base.items() if v is not None}
    data = body.encode() if isinstance(body, str) else body
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for key, value in base.items():
        conn.putheader(key, value)
    if data is not None and "Content-Length" not in base:
        conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, response.headers, payload


def api(srv: S.Server, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body)
    status, _, payload = request(srv, "GET" if body is None else "POST", path, data)
    assert status == 200, payload
    return json.loads(payload)


def test_apply_undo_redo_export_match_the_command_line(running: S.Server, stereo: Path, tmp_path: Path, capsys):
    raw, stamp = stereo.read_bytes(), stereo.stat().st_mtime_ns
    state = api(running, "/api/state")
    assert (state["rate"], state["channels"], state["frames"], state["subtype"]) == (22050, 2, 66150, "PCM_24")
    _, headers, before = request(running, "GET", "/api/image?which=after")
    width, height = int(headers["X-Width"]), int(headers["X-Height"])
    assert (width, height) == (state["image"]["width"], state["image"]["height"] + 2)  # + the waveform's 2 rows
    assert len(before) == width * height and headers["X-From"] == "0"
    snapped = api(running, "/api/plan", {"time": [1.0, 1.5], "freq": [300, 2000]})["regions"]
    assert snapped[-1]["start"] <= 1.0 and snapped[-1]["end"] >= 1.5 and snapped[-1]["low"] <= 300

    state = api(running, "/api/apply", {"time": [1.0, 1.5], "freq": [300, 2000], "seed": 2, "strength": 0.8})
    assert state["can_undo"] and not state["can_redo"] and state["version"] == 1
    assert state["entries"][0]["snapped"][0]["start"] == snapped[-1]["start"]
    command = state["command"]
    assert command.startswith("specblur blur ") and "--time 1-1.5 --freq 300-2000 --amount 0.8 --seed 2" in command
    after = request(running, "GET", "/api/image?which=after")[2]
    assert after != before and request(running, "GET", "/api/image?which=before")[2] == before
    wav_after = request(running, "GET", "/api/audio?which=after")[2]
    wav_before = request(running, "GET", "/api/audio?which=before")[2]
    heard_after = sf.read(io.BytesIO(wav_after))[0]
    heard_before = sf.read(io.BytesIO(wav_before))[0]
    assert heard_after.shape == heard_before.shape == (66150, 2) and not np.array_equal(heard_after, heard_before)

    result = api(running, "/api/export", {})
    out = Path(result["out"])
    assert out == tmp_path / "out.wav" and result["warnings"] == []
    # the command box's line, run by the real CLI, writes the same bytes
    args = command.split()[1:]
    args[2] = str(tmp_path / "cli.wav")
    assert args[-2:] == ["-m", "tiny"] and cli_in_process(capsys, *args)[0] == 0
    assert out.read_bytes() == (tmp_path / "cli.wav").read_bytes() != raw

    state = api(running, "/api/undo", {})
    assert not state["can_undo"] and state["can_redo"]
    assert request(running, "GET", "/api/image?which=after")[2] == before
    assert np.array_equal(sf.read(io.BytesIO(request(running, "GET", "/api/audio")[2]))[0], heard_before)
    api(running, "/api/export", {})
    assert out.read_bytes() == raw  # nothing applied: OUT is IN's bytes
    api(running, "/api/redo", {})
    api(running, "/api/export", {})
    assert out.read_bytes() == (tmp_path / "cli.wav").read_bytes()
    status, _, payload = request(running, "POST", "/api/redo", "{}")
    assert status == 409 and json.loads(payload)["error"] == "nothing to redo"
    assert stereo.read_bytes() == raw and stereo.stat().st_mtime_ns == stamp  # IN never written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli.wav", "out.wav", "take.wav"]  # no temporary left


def run_printed(capsys, command: str, out: Path, into: Path, name: str = "cli.wav") -> str:
    """Run the command box's text with the real CLI (in ``into``, where its step files and the label
    file are), writing ``into / name`` instead of OUT; returns what the commands wrote to stderr."""
    import shlex

    assert not command.startswith("#"), command
    for old in [into / name, *into.glob("step*")]:
        old.unlink(missing_ok=True)
    errors = []
    for line in command.split(" && \\\n"):
        line = line.split("\n#")[0].split("    # ")[0]
        args = shlex.split(line)
        assert args[0] == "specblur"
        args = [str(into / name) if a == str(out) else a for a in args[1:]]
        args = [str(into / a) if a.startswith("step") or a.endswith(".labels.txt") else a for a in args]
        code, err = cli_in_process(capsys, *args)
        assert code == 0, err
        errors.append(err)
    return "".join(errors)


def test_labels_round_trip_through_the_cli(running: S.Server, stereo: Path, tmp_path: Path, capsys) -> None:
    api(running, "/api/apply", {"time": [0.4, 0.8], "freq": [200, 1500]})
    api(running, "/api/apply", {"time": [2.0, 2.6], "freq": [None, 900]})
    _, headers, text = request(running, "GET", "/api/labels")
    assert "attachment" in headers["Content-Disposition"]
    assert text.decode().splitlines() == [
        "0.400000\t0.800000\tblur",
        "\\\t200.000000\t1500.000000",
        "2.000000\t2.600000\tblur",
        "\\\t-1.000000\t900.000000",
    ]
    # two Applies whose worked-on samples meet (a 3 s file: the context reaches): rounded to the
    # file's 24 bits between them, as two commands do, so the printed chain is exact
    state = api(running, "/api/state")
    assert state["command"].count("specblur blur") == 2 and "step1.wav" in state["command"]
    (tmp_path / "take.labels.txt").write_bytes(text)
    api(running, "/api/export", {})
    run_printed(capsys, state["command"], tmp_path / "out.wav", tmp_path)
    assert (tmp_path / "out.wav").read_bytes() == (tmp_path / "cli.wav").read_bytes()
    # loading the file back applies every region as one undo step: one --labels call
    for _ in range(2):
        api(running, "/api/undo", {})
    state = api(running, "/api/labels", {"text": text.decode(), "name": "take.labels.txt"})
    assert len(state["entries"]) == 1 and len(state["entries"][0]["regions"]) == 2
    assert "--labels take.labels.txt -m tiny" in state["command"]
    api(running, "/api/export", {})
    run_printed(capsys, state["command"], tmp_path / "out.wav", tmp_path)
    assert (tmp_path / "out.wav").read_bytes() == (tmp_path / "cli.wav").read_bytes()
    status, _, payload = request(running, "POST", "/api/labels", json.dumps({"text": "1\t1\tpoint\n", "name": "p.txt"}))
    assert status == 400 and json.loads(payload)["error"].startswith("p.txt:1: a point label")


def test_a_chain_of_edits_with_different_settings_is_printed_exactly(running: S.Server, tmp_path: Path, capsys) -> None:
    """Three Applies with different effects and settings, the second overlapping the first: the
    printed commands, run one after another, write the export byte for byte."""
    api(running, "/api/apply", {"time": [0.5, 1.4], "freq": [200, 3000], "seed": 3, "strength": 0.7})
    api(running, "/api/apply", {"time": [1.0, 1.8], "freq": [500, 5000], "seed": 9, "temperature": 1.5})
    state = api(running, "/api/apply", {"mode": "repair", "time": [2.2, 2.3], "freq": [1000, 4000]})
    command = state["command"]
    assert command.count(" && ") == 2 and "--seed 3" in command and "-T 1.5" in command and "repair" in command
    api(running, "/api/export", {})
    run_printed(capsys, command, tmp_path / "out.wav", tmp_path)
    assert (tmp_path / "out.wav").read_bytes() == (tmp_path / "cli.wav").read_bytes()


def test_repair_methods_are_chosen_reported_and_printed(running: S.Server, tmp_path: Path, capsys) -> None:
    """The page's repair method reaches the edit: what each region was filled with is in the
    history (``auto``'s pick too), the printed commands carry ``--method`` and write the export."""
    state = api(running, "/api/state")
    assert state["methods"] == list(S.REPAIR_METHODS) and state["model_methods"] == ["texture", "model"]
    region = {"mode": "repair", "freq": [500, 4000]}
    api(running, "/api/apply", {**region, "time": [0.5, 0.55], "method": "ar"})
    api(running, "/api/apply", {**region, "time": [1.2, 1.5], "method": "interpolate"})
    state = api(running, "/api/apply", {**region, "time": [2.0, 2.4]})
    assert [e["snapped"][0]["method"] for e in state["entries"]] == ["ar", "interpolate", "envelope"]
    assert [e["regions"][0].split(" ")[:2] for e in state["entries"]] == [
        ["repair", "(ar)"], ["repair", "(interpolate)"], ["repair", "2-2.4"]
    ]  # fmt: skip
    command = state["command"]
    assert "--method ar" in command and "--method interpolate" in command and command.count("--method") == 2
    api(running, "/api/export", {})
    run_printed(capsys, command, tmp_path / "out.wav", tmp_path)
    assert (tmp_path / "out.wav").read_bytes() == (tmp_path / "cli.wav").read_bytes()
    # the method is what fills: the same region and seed filled by interpolation is another fill
    session = running.session
    by_auto = session.read("after", 0, session.head.frames)
    api(running, "/api/undo", {})
    api(running, "/api/apply", {**region, "time": [2.0, 2.4], "method": "interpolate"})
    assert not np.array_equal(session.read("after", 0, session.head.frames), by_auto)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_the_printed_commands_give_a_flacs_export_byte_for_byte(
    tiny_model: Path, tmp_path: Path, capsys, subtype: str
) -> None:
    """FLAC (re-encoded, not patched in place as WAV is): one edit's command, a chain of edits with
    different settings through .flac step files, and a --labels call, each run by the real CLI,
    write the editor's export byte for byte, tags included."""
    src = tmp_path / "take.flac"
    with sf.SoundFile(src, "w", 22050, 2, subtype, format="FLAC") as f:
        f.title, f.artist = "a take", "someone"
        f.write(B.tone(3.0, 22050, 2))
    session = S.Session(src, tmp_path / "out.flac", "tiny")
    out = session.out

    def check(expect: str) -> None:
        command = session.command()
        assert expect in command, command
        session.export()
        run_printed(capsys, command, out, tmp_path, "cli.flac")
        assert out.read_bytes() == (tmp_path / "cli.flac").read_bytes()

    session.apply([S.parse_options({"time": [0.5, 1.4], "freq": [200, 3000], "seed": 3})])
    check("--time")
    session.apply([S.parse_options({"time": [1.0, 1.8], "freq": [500, 5000], "seed": 9, "temperature": 1.5})])
    check("step1.flac")
    assert sf.info(out).subtype == subtype and sf.SoundFile(out).title == "a take"
    session.undo()
    session.undo()
    text = "0.2\t0.6\ta\n\\\t100\t1000\n2.0\t2.5\tb\n"
    (tmp_path / "take.labels.txt").write_text(text)
    regions = [
        S.Options("blur", (lab.start, lab.end), (lab.low, lab.high), seed=2) for lab in S.labels.parse(text, "t")
    ]
    session.apply(regions, "take.labels.txt")
    check("--labels take.labels.txt")


def test_edits_of_a_loud_file_are_held_under_full_scale_as_the_command_line_holds_them(
    tiny_model: Path, tmp_path: Path, capsys
) -> None:
    """A 16-bit file at full scale whose blur goes over it: the editor holds the overs under full
    scale as the command line does (short dips in gain, not clipping), so the printed commands still
    write the export byte for byte: one edit, then a second overlapping it."""
    import specblur
    from specblur.edit import segment

    t = np.arange(int(2.0 * 16000)) / 16000
    x = np.clip(6 * np.sin(2 * np.pi * 200 * t) * np.sin(2 * np.pi * 0.5 * t + 0.3), -1, 1)
    src = tmp_path / "loud.wav"
    sf.write(src, np.stack([x, 0.8 * x], axis=1), 16000, subtype="PCM_16")
    decoded = sf.read(src, always_2d=True)[0]
    made = segment.blur(specblur.load_model("tiny"), decoded, 16000, time=(0.3, 1.0), temperature=4.0, seed=1)
    assert np.abs(made.samples).max() > 1.05  # the edit goes over: what this test is about
    session = S.Session(src, tmp_path / "out.wav", "tiny")
    out = session.out
    for step, region in enumerate(({"time": [0.3, 1.0], "temperature": 4, "seed": 1},
                                   {"time": [0.8, 1.6], "temperature": 4, "seed": 2})):  # fmt: skip
        session.apply([S.parse_options(region)])
        command = session.command()
        session.export()
        err = run_printed(capsys, command, out, tmp_path, f"cli{step}.wav")
        assert out.read_bytes() == (tmp_path / f"cli{step}.wav").read_bytes()
        # the page is told what was held, in the command line's numbers
        held = session.state()["entries"][-1]["snapped"][0]["held"]
        assert held["frames"] > 0 and held["db"] < 0
        said = f"{held['frames']} edited samples were over full scale: held under it by dips in gain of up to "
        said += f"{held['db']:.1f} dB"
        assert said in err, err
    y = sf.read(out, always_2d=True)[0]
    clipped = np.clip(made.samples, -1, 1)
    first = slice(int(0.35 * 16000), int(0.75 * 16000))  # (the first edit only)
    assert np.abs(y).max() <= 1.0 and not np.allclose(y[first], clipped[first], atol=2 / 32768)


@pytest.mark.parametrize("hole", [(1.5, 1.55), (0.5, 2.8)], ids=["in memory", "streamed a block at a time"])
def test_a_repair_of_a_loud_master_is_held_under_full_scale_as_the_command_line_holds_it(
    tiny_model: Path, tmp_path: Path, capsys, hole
) -> None:
    """A dropout in a 16-bit master limited against full scale: its fill from the context goes over,
    and the editor holds it under as the command line does, so the printed command writes the export
    byte for byte, and the edit list has the command line's count (a short hole made in memory; a
    long one streamed a block at a time, in the editor as on the command line)."""
    x = 0.99 * np.tanh(4 * np.random.default_rng(7).standard_normal((4 * 16000, 2)))
    x[int(hole[0] * 16000) : int(hole[1] * 16000)] = 0.0
    src = tmp_path / "loud.wav"
    sf.write(src, x, 16000, subtype="PCM_16")
    session = S.Session(src, tmp_path / "out.wav", "tiny")
    session.apply([S.parse_options({"mode": "repair", "time": list(hole)})])
    command = session.command()
    session.export()
    err = run_printed(capsys, command, session.out, tmp_path)
    assert session.out.read_bytes() == (tmp_path / "cli.wav").read_bytes()
    held = session.state()["entries"][-1]["snapped"][0]["held"]
    assert held and f"{held['frames']} edited samples were over full scale" in err, (held, err)


def test_a_file_that_holds_less_than_its_header_promises_says_so(tiny_model: Path, tmp_path: Path) -> None:
    """A WAV cut short opens, and the page is told what the command line warns: the header's length
    and what is there, which is what is edited; a whole file says nothing."""
    full = tmp_path / "full.wav"
    sf.write(full, B.tone(2.0, 16000, 1), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: 44 + 2 * 20000])
    session = S.Session(cut, tmp_path / "o.wav", "tiny")
    state = session.state()
    assert state["short"] == "file cut short: its header promises 2.000 s, it holds 1.250 s"
    assert state["frames"] == 20000
    assert S.Session(full, tmp_path / "p.wav", "tiny").state()["short"] is None


def test_a_lossy_file_has_no_exact_command_and_says_so(tiny_model: Path, tmp_path: Path) -> None:
    """OGG Vorbis: each command re-encodes (lossy), so the box says that no command gives the export."""
    src = tmp_path / "take.ogg"
    sf.write(src, B.tone(3.0, 22050, 2), 22050, format="OGG", subtype="VORBIS")
    session = S.Session(src, tmp_path / "out.ogg", "tiny")
    session.apply([S.parse_options({"time": [0.5, 1.4], "freq": [200, 3000]})])
    assert (
        session.command()
        == "# OGG VORBIS is lossy: each command re-encodes, so no command line gives this export exactly"
    )
    session.export()
    assert sf.info(tmp_path / "out.ogg").frames == sf.info(src).frames


def test_token_host_origin_and_paths(running: S.Server) -> None:
    assert request(running, "GET", "/api/state", headers={S.TOKEN_HEADER: None})[0] == 403
    assert request(running, "GET", "/api/state", headers={S.TOKEN_HEADER: "x" + running.token})[0] == 403
    assert request(running, "GET", f"/api/state?token={running.token}", headers={S.TOKEN_HEADER: None})[0] == 200
    for host in ("evil.example", f"evil.example:{running.port}", "127.0.0.1", f"127.0.0.1:{running.port + 1}", None):
        status, _, payload = request(running, "GET", "/api/state", headers={"Host": host})
        assert status == 403 and "not this server" in json.loads(payload)["error"], host
    assert request(running, "GET", "/", headers={"Host": "rebind.example"})[0] == 403  # the page too
    assert request(running, "GET", "/api/state", headers={"Host": f"localhost:{running.port}"})[0] == 200
    status, _, _ = request(running, "POST", "/api/undo", "{}", headers={"Origin": "http://evil.example"})
    assert status == 403
    # the page's own files, and nothing else however the path is written
    status, headers, page = request(running, "GET", "/", headers={S.TOKEN_HEADER: None})
    assert status == 200 and b"<canvas" in page and "default-src 'self'" in headers["Content-Security-Policy"]
    for name in ("/app.js", "/style.css", "/index.html"):
        assert request(running, "GET", name, headers={S.TOKEN_HEADER: None})[0] == 200
    for path in (
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/static/../server.py",
        "/%2e%2e%2fserver.py",
        "/..%5c..%5cserver.py",
        "/server.py",
        "/__init__.py",
        "//etc/passwd",
        "/app.js/../../server.py",
        "/%252e%252e/etc/passwd",
        "/api/../server.py",
    ):
        status, _, payload = request(running, "GET", path)
        assert status == 404, path
        assert b"root:" not in payload and b"import" not in payload
    assert request(running, "GET", "/api/nothing")[0] == 404
    assert request(running, "GET", "/" + "a" * 70000)[0] == 414  # a request line over 64 KiB
    assert request(running, "POST", "/app.js", "{}")[0] == 405
    assert request(running, "GET", "/api/apply")[0] == 405
    assert request(running, "DELETE", "/api/state")[0] in (405, 501)


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "message"),
    [
        ("/api/apply", "{not json", {}, 400, "body is not JSON"),
        ("/api/apply", "\xff\xfe", {}, 400, "body is not JSON"),
        ("/api/apply", "[1, 2]", {}, 400, "expected a JSON object"),
        ("/api/apply", '{"freq": [1, 2]}', {}, 400, "time: give [low, high]"),
        ("/api/apply", '{"time": [2, 1]}', {}, 400, "time: the high end must be above the low end"),
        ("/api/apply", '{"time": [0, "1"]}', {}, 400, "time: each end must be a number"),
        ("/api/apply", '{"time": [0, 1], "strength": 2}', {}, 400, "strength: 2.0 is outside 0 to 1"),
        ("/api/apply", '{"time": [0, 1], "seed": -1}', {}, 400, "seed: give a whole number"),
        ("/api/apply", '{"time": [0, 1], "mode": "sharpen"}', {}, 400, "mode: use blur or repair"),
        ("/api/apply", '{"time": [0, 1], "prior": "x"}', {}, 400, "prior: use naive-bayes or transformer"),
        ("/api/apply", '{"time": [0, 1], "mode": "repair", "method": "x"}', {}, 400, "method: use auto, envelope, "),
        ("/api/apply", '{"time": [0, 1], "method": "ar"}', {}, 400, "method: only repair has methods"),
        ("/api/apply", '{"time": [9, 10]}', {}, 400, "--time starts at 9 s but the file lasts 3 s"),
        ("/api/plan", '{"time": [0, 1], "freq": [20000, null]}', {}, 400, "--freq starts at 20000 Hz"),
        ("/api/apply", "x" * (S.MAX_BODY + 1), {}, 413, "the most accepted is"),
        ("/api/apply", "{}", {"Content-Length": str(10**12)}, 413, "the most accepted is"),
        ("/api/apply", "{}", {"Content-Length": "ten"}, 400, "bad Content-Length"),
        ("/api/labels", '{"text": 5}', {}, 400, 'give {"text"'),
        ("/api/apply", "[" * 20000 + "]" * 20000, {}, 400, "nested too deep"),
        ("/api/apply", '{"time": [0, 1], "seed": ' + "9" * 5000 + "}", {}, 400, "body is not JSON this editor reads"),
        ("/api/image?which=middle", None, {}, 400, "which: use before or after"),
    ],
)
def test_bad_requests_get_a_4xx_and_a_message(running: S.Server, path, body, headers, status, message) -> None:
    got, response_headers, payload = request(running, "GET" if body is None else "POST", path, body, headers)
    assert got == status, payload
    assert response_headers["Content-Type"] == "application/json"
    error = json.loads(payload)["error"]
    assert message in error and "Traceback" not in error and "\n" not in error
    assert api(running, "/api/state")["version"] == 0  # nothing applied


def test_a_body_shorter_than_its_length_gets_a_4xx(running: S.Server, monkeypatch) -> None:
    """A client that promises more than it sends is answered (once the connection stalls), not left
    with a 500 or a hang; the connection's own timeout bounds the wait (shortened here)."""
    monkeypatch.setattr(S.Handler, "timeout", 1)
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
    conn.putrequest("POST", "/api/apply", skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", f"127.0.0.1:{running.port}")
    conn.putheader(S.TOKEN_HEADER, running.token)
    conn.putheader("Content-Length", "100")
    conn.endheaders(b'{"time": [0, 1]}')
    response = conn.getresponse()
    error = json.loads(response.read())["error"]
    assert response.status == 400 and "ended after 16 of the 100 bytes" in error
    conn.close()
    assert api(running, "/api/state")["version"] == 0


def test_the_port_can_be_reused_at_once_after_a_stop_but_never_shared(running: S.Server) -> None:
    port = running.port
    with pytest.raises(OSError):  # another server still listens there
        S.Server(port, None, "t")
    assert api(running, "/api/state")["version"] == 0  # a connection: the stop leaves it in TIME_WAIT
    running.shutdown()
    running.server_close()
    again = S.Server(port, None, "t")  # at once, as after Ctrl-C and a restart
    assert again.port == port
    again.server_close()


def test_a_post_without_a_length_is_refused(running: S.Server) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
    conn.putrequest("POST", "/api/undo", skip_host=True)
    conn.putheader("Host", f"127.0.0.1:{running.port}")
    conn.putheader(S.TOKEN_HEADER, running.token)
    conn.endheaders()
    assert conn.getresponse().status == 411


def test_output_rules(tiny_model: Path, stereo: Path, tmp_path: Path) -> None:
    link = tmp_path / "hard.wav"
    os.link(stereo, link)
    (tmp_path / "sym.wav").symlink_to(stereo)
    for out in (stereo, link, tmp_path / "sym.wav", tmp_path / "." / "take.wav"):
        with pytest.raises(UsageError, match="output is the input"):
            S.Session(stereo, out, "tiny")
    (tmp_path / "exists.wav").write_bytes(b"keep")
    with pytest.raises(UsageError, match="exists; use --force"):
        S.Session(stereo, tmp_path / "exists.wav", "tiny")
    with pytest.raises(UsageError, match="does not exist"):
        S.Session(stereo, tmp_path / "no" / "o.wav", "tiny")
    assert S.Session(stereo, None, "tiny").out == tmp_path / "take.edited.wav"
    # OUT made a link to IN after the start, or IN changed on disk: export refuses, writes nothing
    session = S.Session(stereo, tmp_path / "late.wav", "tiny")
    os.link(stereo, tmp_path / "late.wav")
    with pytest.raises(S.RequestError, match="is the input now"):
        session.export()
    session = S.Session(stereo, tmp_path / "o2.wav", "tiny")
    stamp = stereo.stat().st_mtime_ns
    stereo.write_bytes(stereo.read_bytes())
    os.utime(stereo, ns=(stamp + 1_000_000_000, stamp + 1_000_000_000))  # rewritten a second later, on any clock
    with pytest.raises(S.RequestError, match="changed on disk"):
        session.export()
    assert not (tmp_path / "o2.wav").exists()


def _start_editor(args: list[str], env: dict | None = None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _NO_TORCH, "edit", *args, "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=sigint_default,
    )
    # a reader thread, so that waiting for the URL can give up (a safety net, not a timing): a
    # readline on the pipe itself would block for as long as the child prints nothing
    url = re.compile(r"http://127\.0\.0\.1:\d+/\?token=\S+")
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:  # up to the URL; the rest is left to communicate()
        for line in proc.stdout:
            lines.put(line)
            if url.search(line):
                return
        lines.put("")

    threading.Thread(target=read, daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=300)
        except queue.Empty:
            break
        if not line:
            break
        seen.append(line)
        match = url.search(line)
        if match:
            return proc, match.group(0)
    proc.kill()
    _, err = proc.communicate()
    raise AssertionError("no URL printed: " + "".join(seen) + err)


# `specblur edit` with torch made unimportable, reporting at exit whether anything heavy was loaded
_NO_TORCH = """
import sys
for name in ("torch", "torchaudio", "sklearn"):
    sys.modules[name] = None
from specblur.cli import main
try:
    main(sys.argv[1:])
finally:
    sys.stderr.write(f"heavy={[m for m in ('torch', 'torchaudio', 'sklearn') if sys.modules.get(m) is not None]}\\n")
"""


def _call(url: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    port = int(url.split(":")[2].split("/")[0])
    token = url.split("token=")[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, json.dumps(body) if body is not None else None, {S.TOKEN_HEADER: token})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_command_serves_without_torch_and_stops_cleanly(tiny_model: Path, stereo: Path, tmp_path: Path, sig):
    raw = stereo.read_bytes()
    proc, url = _start_editor([str(stereo), "--out", str(tmp_path / "o.wav"), "-m", "tiny"])
    port = int(url.split(":")[2].split("/")[0])
    try:
        assert _call(url, "POST", "/api/apply", {"time": [0.5, 1.0]})[0] == 200
        assert _call(url, "POST", "/api/export", {})[0] == 200
        idle = socket.create_connection(("127.0.0.1", port))  # as a browser's spare connection
    finally:
        proc.send_signal(sig)
        # no wait for the idle connection to time out (60 s): it is hung up
        out, err = proc.communicate(timeout=30)
    try:
        assert idle.recv(10) == b""  # hung up (a closed connection or a reset, as the exit goes)
    except ConnectionResetError:
        pass
    idle.close()
    assert proc.returncode == 0, err
    assert err.strip() == "heavy=[]"  # no traceback, no torch
    assert stereo.read_bytes() == raw
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.wav", "take.wav"]
    assert sf.info(tmp_path / "o.wav").frames == sf.info(stereo).frames


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_only_asks_the_serving_loop_to_stop(tiny_model: Path, stereo: Path, tmp_path: Path, sig) -> None:
    """Connections keep arriving as the signal lands (a browser reloading, several tabs). The signal
    must not raise inside the loop: landing between a request thread's registration and its start,
    it made closing fail (CI caught that once). serve() returns normally and puts the handlers back."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for round in range(3):
        srv = S.open_server(0, S.Session(stereo, tmp_path / "o.wav", "tiny"))
        stop = threading.Event()

        def knock(port: int = srv.port, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                except OSError:
                    time.sleep(0.001)

        # the signal goes once the loop has taken in some connections (more each round): never
        # before serve() has put its handlers in place (announce runs after that), never after a guess
        accepted = threading.Semaphore(0)
        real_process = srv.process_request

        def counted(request, address, real=real_process, accepted=accepted) -> None:
            real(request, address)
            accepted.release()

        srv.process_request = counted
        sent: list[bool] = []

        def signal_when_busy(n: int = 10 + 20 * round, accepted=accepted, sent: list = sent) -> None:
            sent.append(all(accepted.acquire(timeout=300) for _ in range(n)))  # (a safety net, not a timing)
            signal.pthread_kill(threading.main_thread().ident, sig)

        sender = threading.Thread(target=signal_when_busy)
        knockers = [threading.Thread(target=knock) for _ in range(4)]
        for thread in knockers:
            thread.start()
        try:
            S.serve(srv, lambda url, sender=sender: sender.start(), open_browser=False)  # returns, no exception
        finally:
            stop.set()
            if sender.is_alive() or sent:
                sender.join()
            for thread in knockers:
                thread.join()
        assert sent == [True]
        assert not [t for t in srv.threads if t.is_alive()]
        assert {s: signal.getsignal(s) for s in before} == before


def test_command_line_errors_before_serving(tiny_model: Path, stereo: Path, tmp_path: Path) -> None:
    for args, message in (
        ([str(tmp_path / "none.wav")], "none.wav: no such file"),
        ([str(stereo), "--out", str(stereo)], "output is the input"),
        ([str(stereo), "--out", "-"], "'-' (a pipe) cannot be edited"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "specblur", "edit", *args, "-m", "tiny", "--no-browser", "--port", "0"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode in (1, 2) and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    busy = S.Server(0, None, "t")  # a port in use
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "specblur",
                "edit",
                str(stereo),
                "-m",
                "tiny",
                "--no-browser",
                "--port",
                str(busy.port),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        busy.server_close()
    assert proc.returncode == 1 and f"--port {busy.port}: cannot listen there" in proc.stderr


MARGIN = 0.45
"""Seconds around a region that an edit may change (the brush's feather and the STFT window), as in
tests/test_container.py."""


def test_apply_keeps_the_samples_outside_each_span(tiny_model: Path, tmp_path: Path) -> None:
    """Checked against the region asked for plus the margin, not against the span the session reports
    (a patch as long as the file must fail)."""
    rate = 16000
    src = tmp_path / "mono.wav"
    sf.write(src, tone(6.0, rate, (330.0,)), rate, subtype="FLOAT")
    session = S.Session(src, tmp_path / "o.wav", "tiny")
    entry = session.apply([S.parse_options({"time": [2.0, 2.5]})])
    lo, hi = int((2.0 - MARGIN) * rate), int((2.5 + MARGIN) * rate)
    ((start, new),) = entry.patches
    assert lo <= start and start + len(new) <= hi  # what an export rewrites stays near the region
    frames = session.head.frames
    current, original = session.read("after", 0, frames), session.read("before", 0, frames)
    assert np.array_equal(current[:lo], original[:lo]) and np.array_equal(current[hi:], original[hi:])
    assert not np.array_equal(original[start : start + len(new)], new)
    assert np.array_equal(current[start : start + len(new)], new)
    session.export()
    written = sf.read(tmp_path / "o.wav", dtype="float64", always_2d=True)[0]
    assert np.array_equal(written[:lo], original[:lo]) and np.array_equal(written[hi:], original[hi:])
    assert np.array_equal(written, current)  # the editor keeps what the file stores (FLOAT: float32)


def test_the_server_listens_on_loopback_only() -> None:
    """The page can change files on disk: no other machine may reach it."""
    for srv in (S.Server(0, None, "t"), S.open_server(0, None)):
        try:
            assert srv.socket.getsockname()[0] == "127.0.0.1"
            assert srv.url.startswith(f"http://127.0.0.1:{srv.port}/")
        finally:
            srv.server_close()


# -- issue 22: long files, OUT kept safe, long work stopped -------------------------------------------


def test_the_picture_is_redrawn_where_an_edit_touched_and_equals_the_whole_one(running: S.Server) -> None:
    session = running.session
    total = session.columns
    whole_before = request(running, "GET", "/api/image?which=after")[2]
    state = api(running, "/api/apply", {"time": [1.0, 1.4], "freq": [300, 3000], "seed": 5})
    status, headers, patch = request(running, "GET", f"/api/image?which=after&since={state['version'] - 1}")
    first, width, rows = int(headers["X-From"]), int(headers["X-Width"]), int(headers["X-Height"])
    assert status == 200 and 0 < first and first + width < total and len(patch) == width * rows  # only some columns
    s0, s1, c0, c1 = session.changes[state["version"]]
    assert (first, first + width) == (c0, c1)
    # the page's picture (the whole one before, patched) is the whole file's picture made again
    page = np.frombuffer(whole_before, np.uint8).reshape(rows, total).copy()
    page[:, first : first + width] = np.frombuffer(patch, np.uint8).reshape(rows, width)
    db, peaks = session._picture("after", 0, total)
    again = np.concatenate([session._bytes(db), peaks])
    assert np.array_equal(page, again)
    assert not np.array_equal(page, np.frombuffer(whole_before, np.uint8).reshape(rows, total))
    # and the columns outside the touched ones see no changed sample
    rate, spec = session.head.sample_rate, session.loaded.model.config.spectrogram
    assert c0 * spec.hop_length * rate / spec.sample_rate <= s0 - spec.n_fft // 2 * rate / spec.sample_rate
    assert (c1 - 1) * spec.hop_length * rate / spec.sample_rate >= s1 + spec.n_fft // 2 * rate / spec.sample_rate - 1
    assert request(running, "GET", "/api/image?which=after&since=x")[0] == 400
    # the take heard, likewise: only the changed samples, as the listening WAV holds them
    status, headers, pcm = request(running, "GET", f"/api/audio?which=after&since={state['version'] - 1}")
    first, frames = int(headers["X-From"]), int(headers["X-Frames"])
    assert status == 200 and (first, first + frames) == (s0, s1) and len(pcm) == frames * 2 * 2
    wav = sf.read(io.BytesIO(request(running, "GET", "/api/audio?which=after")[2]), dtype="int16")[0]
    assert np.array_equal(np.frombuffer(pcm, "<i2").reshape(frames, 2), wav[first : first + frames])
    for query, code in (("since=x", 400), ("since=99", 409), ("which=before&since=0", 400)):
        status, _, payload = request(running, "GET", f"/api/audio?{query}")
        assert status == code and "\n" not in json.loads(payload)["error"], query


def test_a_session_does_not_hold_the_file(tiny_model: Path, tmp_path: Path) -> None:
    """Memory follows the picture and the edits: opening a file and editing it takes far less than
    its samples (which the session once held twice, as float64)."""
    import tracemalloc

    rate, seconds = 22050, 120.0
    src = tmp_path / "long.wav"
    with sf.SoundFile(src, "w", rate, 2, "PCM_16") as f:
        for _ in range(0, int(seconds * rate), rate * 10):
            f.write(np.repeat(tone(10.0, rate, (220.0, 330.0)).reshape(-1, 1), 2, axis=1) * 0.5)
    samples_bytes = int(seconds * rate) * 2 * 8
    tracemalloc.start()
    try:
        session = S.Session(src, tmp_path / "o.wav", "tiny")
        # (the picture first: made in the background, a block at a time, it would otherwise add its
        # block to the edit's at the peak, each bounded, neither following the file's length)
        assert session.wait_picture(120)
        session.apply([S.parse_options({"time": [60.0, 61.0], "freq": [300, 3000]})])
        session.undo()
        session.redo()
        length, pieces = session.wav_chunks("after")
        assert sum(len(p) for p in pieces) == length
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < samples_bytes / 2, (peak, samples_bytes)  # one copy of its samples would not fit


def test_export_replaces_only_what_this_editor_wrote(running: S.Server, stereo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    api(running, "/api/apply", {"time": [1.0, 1.5], "freq": [300, 2000]})
    api(running, "/api/export", {})
    api(running, "/api/export", {})  # its own file: replaced
    out.write_bytes(out.read_bytes()[:-2] + b"zz")  # another program writes OUT
    status, _, payload = request(running, "POST", "/api/export", "{}")
    message = json.loads(payload)["error"]
    assert status == 409 and message.endswith(
        "changed since this editor wrote it; nothing written; use Export as... to give another name"
    )
    assert out.read_bytes().endswith(b"zz")
    # Export as...: a typed name, the CLI's rules
    link = tmp_path / "link.wav"
    link.symlink_to(stereo)
    (tmp_path / "taken.wav").write_bytes(b"x")
    for name, code, text in (
        ("take.wav", 400, "output is the input"),
        (str(link), 400, "output is the input"),
        ("taken.wav", 409, "exists; give another name"),
        ("other.flac", 400, "cannot be written as"),
        ("", 400, "name: give a file name"),
        (5, 400, "name: give a file name"),
        ("nofolder/x.wav", 400, "does not exist"),
    ):
        status, _, payload = request(running, "POST", "/api/export", json.dumps({"name": name}))
        assert (status, text in json.loads(payload)["error"]) == (code, True), (name, payload)
    result = api(running, "/api/export", {"name": "second.wav"})
    assert result["out"] == str(tmp_path / "second.wav")
    state = api(running, "/api/state")
    assert state["out"] == str(tmp_path / "second.wav") and "second.wav" in state["command"]
    assert sf.read(tmp_path / "second.wav")[0].shape == (66150, 2)


def test_force_replaces_the_file_seen_at_start_only(tiny_model: Path, stereo: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.wav"
    out.write_bytes(b"old")
    session = S.Session(stereo, out, "tiny", force=True)
    other = S.Session(stereo, out, "tiny", force=True)
    session.apply([S.parse_options({"time": [1.0, 1.5]})])
    other.apply([S.parse_options({"time": [0.2, 0.5]})])
    other.export()  # the other editor exports first
    written = out.read_bytes()
    with pytest.raises(S.RequestError, match="changed since the editor started; nothing written"):
        session.export()
    assert out.read_bytes() == written


def _many_labels(n: int, seconds: float) -> str:
    from specblur import labels

    return labels.dumps(
        [labels.Label(0.1 + (i % 20) * (seconds - 0.5) / 20, 0.3 + (i % 20) * (seconds - 0.5) / 20, 200.0, 3000.0, "r")
         for i in range(n)]
    )  # fmt: skip


def test_long_work_reports_progress_and_cancels_leaving_everything(running: S.Server) -> None:
    before = api(running, "/api/state")
    answers: queue.Queue = queue.Queue()
    body = json.dumps({"text": _many_labels(400, 3.0), "name": "many.txt"})
    worker = threading.Thread(target=lambda: answers.put(request(running, "POST", "/api/labels", body)))
    worker.start()
    try:
        while True:  # the server reports where it is while it works
            progress = api(running, "/api/progress")
            if progress["task"] == "many.txt" and progress["done"] >= 1:
                break
            assert worker.is_alive(), "finished before it could be cancelled"
            time.sleep(0.02)  # (a poll's pace, not a timing: the loop waits on the condition)
        assert progress["total"] == 400
        assert api(running, "/api/cancel", {}) == {"cancelling": True}
    finally:
        worker.join(120)
    status, _, payload = answers.get_nowait()
    assert status == 409 and re.fullmatch(
        r"cancelled after \d+ of 400 regions; nothing changed", json.loads(payload)["error"]
    )
    after = api(running, "/api/state")
    assert (after["version"], after["entries"], after["command"]) == (before["version"], [], "")


def test_a_cancel_stops_an_edit_still_waiting_for_its_turn(running: S.Server) -> None:
    """A Cancel that comes while the edit it means waits for the lock (the server busy making the
    picture, say) stops that edit before it starts, and answers at once; it used to be cleared as the
    edit started, which then ran to its end. The edit asked for after it is not touched."""
    session = running.session
    before = api(running, "/api/state")
    answers: queue.Queue = queue.Queue()
    body = json.dumps({"time": [1.0, 1.5], "freq": [300, 3000]})
    worker = threading.Thread(target=lambda: answers.put(request(running, "POST", "/api/apply", body)))
    with session.lock:  # the server busy: the edit waits for its turn
        worker.start()
        deadline = time.monotonic() + 60
        while session.asked < 1:  # (the edit has arrived and waits)
            assert worker.is_alive() and time.monotonic() < deadline, "the edit never arrived"
            time.sleep(0.01)
        assert api(running, "/api/cancel", {}) == {"cancelling": True}
        worker.join(60)  # the answer comes while the lock is still held: the page is free at once
        assert not worker.is_alive(), "the cancelled edit waited for the lock"
    status, _, payload = answers.get_nowait()
    assert status == 409 and json.loads(payload)["error"] == "cancelled before it started; nothing changed"
    after = api(running, "/api/state")
    assert (after["version"], after["entries"], after["command"]) == (before["version"], [], "")
    state = api(running, "/api/apply", {"time": [1.0, 1.5], "freq": [300, 3000]})
    assert len(state["entries"]) == 1 and not state["preview"]


def test_preview_several_regions_and_the_snapped_numbers(running: S.Server, tmp_path: Path) -> None:
    session = running.session
    planned = api(running, "/api/plan", {"time": [1.03, 1.41], "freq": [310, 2400]})
    time_span, freq = planned["time"], planned["freq"]
    finest = planned["regions"][-1]
    assert time_span[0] == finest["start"] or abs(time_span[0] - finest["start"]) < 1e-6
    assert freq[0] == pytest.approx(finest["low"], abs=1e-3) and freq[1] == pytest.approx(finest["high"], abs=1e-3)
    again = api(running, "/api/plan", {"time": time_span, "freq": freq})  # the numbers snap to themselves
    assert again["regions"] == planned["regions"] and again["time"] == time_span and again["freq"] == freq

    state = api(running, "/api/apply", {"time": time_span, "freq": freq, "preview": True})
    assert state["preview"] and state["command"] == "" and state["entries"][0]["preview"]
    status, _, payload = request(running, "POST", "/api/export", "{}")
    assert status == 409 and "preview" in json.loads(payload)["error"]
    state = api(running, "/api/commit", {})
    assert not state["preview"] and f"--time {S._decimal(time_span[0])}-{S._decimal(time_span[1])}" in state["command"]
    api(running, "/api/apply", {"time": [2.0, 2.4], "preview": True})
    state = api(running, "/api/discard", {})
    assert len(state["entries"]) == 1 and not state["preview"]
    status, _, payload = request(running, "POST", "/api/discard", "{}")
    assert status == 409 and json.loads(payload)["error"] == "no preview to discard"
    # several selections, one step
    state = api(running, "/api/apply", {"regions": [{"time": [0.2, 0.4]}, {"time": [2.2, 2.5], "freq": [100, 900]}]})
    assert len(state["entries"]) == 2 and len(state["entries"][1]["regions"]) == 2
    assert session.entries[1].regions[1].freq == (100.0, 900.0)
    for bad in ({"regions": []}, {"regions": "x"}, {"regions": [{"time": [2, 1]}]}, {"regions": [3]}):
        status, _, payload = request(running, "POST", "/api/apply", json.dumps(bad))
        assert status == 400 and "\n" not in json.loads(payload)["error"]


def test_a_signal_stops_the_server_during_long_work(tiny_model: Path, stereo: Path, tmp_path: Path) -> None:
    """SIGTERM while a label file of many regions is being applied: the server does not wait for it
    (it is abandoned, nothing is written) and exits cleanly."""
    proc, url = _start_editor([str(stereo), "--out", str(tmp_path / "o.wav"), "-m", "tiny"])
    answers: queue.Queue = queue.Queue()
    body = {"text": _many_labels(5000, 3.0), "name": "many.txt"}

    def post() -> None:
        try:
            answers.put(_call(url, "POST", "/api/labels", body))
        except (OSError, http.client.HTTPException) as exc:
            answers.put(exc)

    worker = threading.Thread(target=post)
    worker.start()
    try:
        while _call(url, "GET", "/api/progress")[1]["done"] < 1:
            assert worker.is_alive()
            time.sleep(0.02)  # (a poll's pace, not a timing)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        worker.join(60)
    answer = answers.get_nowait()
    assert isinstance(answer, Exception) or answer[0] != 200  # not waited for to its end
    assert proc.returncode == 0 and err.strip() == "heavy=[]", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.wav"]  # nothing written


def _steady(seconds: float, rate: int) -> np.ndarray:
    """Two steady tones an octave and a bit apart, a slow tremolo and a little noise, in stereo."""
    t = np.arange(int(seconds * rate)) / rate
    x = (0.2 * np.sin(2 * np.pi * 330 * t) + 0.1 * np.sin(2 * np.pi * 1250 * t)) * (
        1 + 0.5 * np.sin(2 * np.pi * 0.7 * t)
    )
    x = x + 0.01 * np.random.default_rng(0).standard_normal(len(t))
    return np.stack([x, 0.7 * x], axis=1)


def _export_is_the_commands(srv: S.Server, command: str, tmp_path: Path, capsys, src: Path) -> None:
    """Export, then run the one printed command (writing ``cli.wav``): the same bytes, not IN's."""
    out = Path(api(srv, "/api/export", {})["out"])
    args = command.split()[1:]
    args[2] = str(tmp_path / "cli.wav")
    code, err = cli_in_process(capsys, *args)
    assert code == 0, (err, command)
    assert out.read_bytes() == (tmp_path / "cli.wav").read_bytes() != src.read_bytes()


def test_a_long_region_is_edited_in_tiles_with_progress_cancel_and_the_command_lines_bytes(
    tiny_model: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """A blur of a region longer than tiles.LONG_SECONDS is done in the command line's tiles (issue
    20): the page sees its progress tile by tile, Cancel stops the tile in flight and keeps nothing, and once
    done the command box's one command writes the export's bytes. The step's samples are held as the
    file stores them (16-bit: int16), not as float64."""
    from specblur.edit import tiles

    rate = 16000
    src = tmp_path / "long.wav"
    sf.write(src, _steady(tiles.LONG_SECONDS + 10.0, rate), rate, subtype="PCM_16")
    session = S.Session(src, tmp_path / "o.wav", "tiny")
    srv = S.open_server(0, session)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    run_tile, reached, go = tiles.run_tile, threading.Event(), threading.Event()

    finished: list[int] = []

    def held(loaded, segment, rate, where, options, tile, after, **kw):  # the second tile waits for the test
        if tile.index == 1:
            reached.set()
            assert go.wait(60)
        result = run_tile(loaded, segment, rate, where, options, tile, after, **kw)
        finished.append(tile.index)
        return result

    monkeypatch.setattr(S.tiles, "run_tile", held)
    region = {"time": [1.0, tiles.LONG_SECONDS + 8.0], "freq": [200, 2000], "seed": 3}
    total = len(tiles.tiles(session._plan(S.parse_options(region)).hole, rate))
    try:
        answers: queue.Queue = queue.Queue()
        worker = threading.Thread(target=lambda: answers.put(request(srv, "POST", "/api/apply", json.dumps(region))))
        worker.start()
        assert reached.wait(60)
        assert api(srv, "/api/progress") == {"task": "apply", "done": 1, "total": total, "unit": "tiles"}
        assert api(srv, "/api/cancel", {}) == {"cancelling": True}
        go.set()
        worker.join(60)
        status, _, payload = answers.get_nowait()
        # the tile in flight when Cancel came stopped at its next step (it never finished)
        assert status == 409 and json.loads(payload)["error"] == f"cancelled after 1 of {total} tiles; nothing changed"
        assert finished == [0]
        state = api(srv, "/api/state")
        assert (state["version"], state["entries"], state["command"]) == (0, [], "")

        state = api(srv, "/api/apply", region)
        assert state["entries"][0]["snapped"][0]["tiles"] == total and session.entries[0].tiled == [True]
        assert all(isinstance(p, S.Stored) and p.data.dtype == np.int16 for _, p in session.entries[0].patches)
        command = state["command"]
        assert command.startswith("specblur blur ") and "--seed 3" in command
        _export_is_the_commands(srv, command, tmp_path, capsys, src)
        # the same region beside another one in one step: --labels edits neither in tiles, nor does the editor
        api(srv, "/api/undo", {})
        both = {"regions": [region, {"time": [2.0, 2.5]}], "seed": 3}
        state = api(srv, "/api/apply", both)
        assert session.entries[0].tiled == [False, False] and "--labels" in state["command"]
        # the picture of the tiled edit, made again in the background, is the whole picture made anew
        assert session.wait_picture(60)
        db, peaks = session._picture("after", 0, session.columns)
        image, wave = session.pictures["after"]
        assert np.array_equal(image, session._bytes(db)) and np.array_equal(wave, peaks)
    finally:
        go.set()
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("method", ["declick", "interpolate"])
def test_a_long_repair_streams_with_progress_cancel_and_the_command_lines_bytes(
    tiny_model: Path, tmp_path: Path, capsys, method: str
) -> None:
    """A repair the command line makes as it reads (a declick of a long stretch, a long hole's
    fill in blocks) is made so in the editor too: never read whole (a 10-minute declick took 1.1 GB
    when it was), its progress counted in blocks, Cancel keeps nothing, and the export is the
    printed command's bytes."""
    from specblur.audio import BLOCK_FRAMES

    rate = 16000
    x = _steady(30.0, rate)
    for at in range(int(0.7 * rate), len(x) - rate, int(0.45 * rate)):  # clicks, each in one channel
        x[at : at + 8, (at // 7) % 2] += 0.6 * np.exp(-np.arange(8) / 3)
    src = tmp_path / "crackle.wav"
    sf.write(src, x, rate, subtype="PCM_16")
    session = S.Session(src, tmp_path / "o.wav", "tiny")
    srv = S.open_server(0, session)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    longest, read = [0], session.read

    def counted(which, start, stop, extra=()):  # the reads of an apply made on this thread
        if threading.current_thread() is threading.main_thread():
            longest[0] = max(longest[0], min(stop, len(x)) - max(0, start))
        return read(which, start, stop, extra)

    session.read = counted
    stored, reached, go = session._stored, threading.Event(), threading.Event()
    calls = [0]

    def held(samples):  # the second patch waits for the test
        calls[0] += 1
        if calls[0] == 2:
            reached.set()
            assert go.wait(60)
        return stored(samples)

    session._stored = held
    region = {"mode": "repair", "method": method, "time": [0.5, 29.5]}
    where = session._plan(S.parse_options(region))
    units = round((where.stop - where.start) / rate / 2)
    try:
        answers: queue.Queue = queue.Queue()
        worker = threading.Thread(target=lambda: answers.put(request(srv, "POST", "/api/apply", json.dumps(region))))
        worker.start()
        assert reached.wait(60)
        progress = api(srv, "/api/progress")
        assert (progress["unit"], progress["total"]) == ("blocks", units) and 0 < progress["done"] < units
        assert api(srv, "/api/cancel", {}) == {"cancelling": True}
        go.set()
        worker.join(60)
        status, _, payload = answers.get_nowait()
        assert status == 409 and "blocks; nothing changed" in json.loads(payload)["error"]
        assert api(srv, "/api/state")["entries"] == []

        calls[0] = 10
        session.apply([S.parse_options(region)])
        state = api(srv, "/api/state")
        assert state["entries"][0]["snapped"][0]["method"] == method
        clicks = len(range(int(0.7 * rate), len(x) - rate, int(0.45 * rate)))  # what declick says it mended
        assert state["entries"][0]["snapped"][0]["clicks"] == (clicks if method == "declick" else None)
        # read a piece at a time (the check for samples that are not finite: a block), never whole
        assert 0 < longest[0] <= BLOCK_FRAMES < 29 * rate
        command = state["command"]
        assert f"--method {method}" in command
        _export_is_the_commands(srv, command, tmp_path, capsys, src)
    finally:
        go.set()
        srv.shutdown()
        srv.server_close()


def test_the_picture_of_a_long_file_arrives_in_blocks_and_edits_work_meanwhile(
    tiny_model: Path, tmp_path: Path, monkeypatch
) -> None:
    """The server answers at once and makes the picture in the background, block by block: asked
    for the columns made since a tick, it gives those made so far; an edit applied meanwhile (in the
    part made, and in the part not made yet) is in the after picture when it is whole, which equals
    the whole file's picture made anew."""
    rate = 16000
    src = tmp_path / "long.wav"
    sf.write(src, _steady(150.0, rate)[:, 0], rate, subtype="PCM_16")
    block, gate = S.Session._block, threading.Event()

    def gated(self, which, c0, c1, check):  # the first two blocks, then the test's signal
        if which == "before" and c0 >= 2 * S.IMAGE_BLOCK:
            assert gate.wait(60)
        return block(self, which, c0, c1, check)

    monkeypatch.setattr(S.Session, "_block", gated)
    session = S.Session(src, tmp_path / "o.wav", "tiny")
    srv = S.open_server(0, session)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        columns = session.columns
        assert columns > 4 * S.IMAGE_BLOCK
        held = {w: np.zeros((session.loaded.model.config.spectrogram.n_bins + 2, columns), np.uint8)
                for w in ("before", "after")}  # fmt: skip
        ticks = {"before": 0, "after": 0}

        def fetch(which: str) -> dict:
            status, headers, data = request(srv, "GET", f"/api/image?which={which}&tick={ticks[which]}&wait=1")
            assert status == 200
            first, width = int(headers["X-From"]), int(headers["X-Width"])
            held[which][:, first : first + width] = np.frombuffer(data, np.uint8).reshape(-1, width)
            ticks[which] = int(headers["X-Tick"])
            return headers

        while int(fetch("before")["X-Ready"]) < 2 * S.IMAGE_BLOCK:
            pass
        state = api(srv, "/api/state")
        assert state["image"]["ready"] == 2 * S.IMAGE_BLOCK < columns  # made so far, and no further
        assert fetch("after")["X-Ready"] == str(2 * S.IMAGE_BLOCK)
        # edits meanwhile: in the part made, and in the part not made yet
        api(srv, "/api/apply", {"time": [1.0, 2.0], "freq": [200, 2000], "seed": 1})
        api(srv, "/api/apply", {"time": [120.0, 121.0], "freq": [200, 2000], "seed": 2})
        assert api(srv, "/api/state")["image"]["ready"] == 2 * S.IMAGE_BLOCK
        gate.set()
        while int(fetch("before")["X-Ready"]) < columns:
            pass
        fetch("after")
        for which in ("before", "after"):
            db, peaks = session._picture(which, 0, columns)
            assert np.array_equal(held[which], np.concatenate([session._bytes(db), peaks])), which
        assert not np.array_equal(held["before"], held["after"])
        assert request(srv, "GET", "/api/image?which=after&tick=x")[0] == 400
    finally:
        gate.set()
        srv.shutdown()
        srv.server_close()


def test_a_label_file_of_overlapping_regions_is_stored_as_it_goes_with_the_command_lines_bytes(
    tiny_model: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """A step of many regions whose parts overlap (a label file) stores each changed span as soon as
    no region still to come reads it, not all of them at the end (memory follows the regions in
    reach: on_file.InTurn), and its export is the command line's --labels bytes."""
    from specblur import labels

    rate = 16000
    src = tmp_path / "long.wav"
    sf.write(src, _steady(20.0, rate), rate, subtype="PCM_16")
    marks = [labels.Label(1.0 + 0.5 * k, 1.3 + 0.5 * k, 300.0, 3000.0, "r") for k in range(30)]
    marks.insert(12, labels.Label(2.2, 2.6, None, None, "again"))  # over earlier ones, out of file order
    session = S.Session(src, tmp_path / "o.wav", "tiny")
    srv = S.open_server(0, session)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    stored_at: list[int] = []
    stored = S.Session._stored

    def watched(self, samples):
        stored_at.append(self.progress["done"])
        return stored(self, samples)

    monkeypatch.setattr(S.Session, "_stored", watched)
    try:
        state = api(srv, "/api/labels", {"text": labels.dumps(marks), "name": "take.labels.txt", "seed": 3})
        assert len(state["entries"]) == 1 and len(state["entries"][0]["regions"]) == len(marks)
        assert stored_at and stored_at[0] < len(marks) // 2  # the first span stored with most regions to do
        # the pieces that meet are joined into one patch each (reads go through every patch)
        held = session.entries[0].patches
        assert len(held) < len(stored_at)
        assert all(a + len(x) <= b for (a, x), (b, _) in zip(held, held[1:], strict=False))
        assert "--labels long.labels.txt" in state["command"]
        (tmp_path / "long.labels.txt").write_text(labels.dumps(marks))
        out = Path(api(srv, "/api/export", {})["out"])
        run_printed(capsys, state["command"], out, tmp_path)
        assert out.read_bytes() == (tmp_path / "cli.wav").read_bytes() != src.read_bytes()
    finally:
        srv.shutdown()
        srv.server_close()


def test_stored_pieces_that_meet_are_joined_and_read_back_the_same() -> None:
    rng = np.random.default_rng(2)
    frames = rng.integers(-1000, 1000, size=(5000, 2)) / 32768.0
    pieces, at = [], 0
    while at < 4800:
        n = int(rng.integers(1, 300))
        if rng.random() < 0.3:
            at += int(rng.integers(1, 50))  # a gap
        subtype = "PCM_16" if rng.random() < 0.9 else "FLOAT"
        pieces.append((at, S.Stored(frames[at : at + n], subtype)))
        at += n
    out = S.joined(pieces, most=1000)
    assert len(out) < len(pieces)
    assert all(a + len(x) <= b for (a, x), (b, _) in zip(out, out[1:], strict=False))
    assert all(len(x) <= 1000 for _, x in out)  # (every piece is under 300 frames)
    for start, patch in out:
        assert np.array_equal(patch[:], frames[start : start + len(patch)])
    assert sum(len(x) for _, x in out) == sum(len(x) for _, x in pieces)
