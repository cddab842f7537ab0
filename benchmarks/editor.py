"""specblur edit: the time from Apply to the new picture, against the in-process blur of the same region.

On 4 s 16 kHz and 44.1 kHz mono clips and a 10 s 44.1 kHz stereo one, blur 1.0-2.0 s x 200-2000 Hz:
``specblur.blur`` in process (the reference), the session's apply (the edit on the samples in memory, recording
undo), the new spectrogram, and the whole round trip through the local server as the page does it
(POST /api/apply, then GET /api/image, over HTTP on 127.0.0.1), each followed by an untimed undo.
Target (issue 13): the round trip on the 4 s clips within a fraction of a second (<= 300 ms). Run:
``python benchmarks/editor.py``.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import threading
import time
from pathlib import Path

import soundfile as sf
from _common import median_time, parser, report, table, tone_file, verdict

CLIPS = {
    "4 s 16 kHz mono": (4.0, 16000, 1),
    "4 s 44.1 kHz mono": (4.0, 44100, 1),
    "10 s 44.1 kHz stereo": (10.0, 44100, 2),
}
TARGET_CLIPS = ("4 s 16 kHz mono", "4 s 44.1 kHz mono")
REGION = {"time": [1.0, 2.0], "freq": [200, 2000]}


def measure(loaded, path: Path, work: Path, rate: int, repeat: int) -> dict[str, float]:
    """The four figures of one clip (ms)."""
    import specblur
    from specblur.editor import server as S

    samples, _ = sf.read(path, dtype="float64")
    session = S.Session(path, work / "out.wav", loaded, force=True)
    srv = S.open_server(0, session)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    options = S.parse_options(REGION)
    headers = {S.TOKEN_HEADER: srv.token, "Content-Type": "application/json"}

    def in_process() -> None:
        specblur.blur(samples, rate, (1.0, 2.0), (200, 2000), model=loaded)

    def apply() -> None:
        session.apply([options])
        session.undo()

    def picture() -> float:
        session.apply([options])
        started = time.perf_counter()
        session.image("after")
        seconds = time.perf_counter() - started
        session.undo()
        return seconds

    def call(method: str, path: str, body: str | None = None) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port)
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        conn.close()

    def round_trip() -> None:
        call("POST", "/api/apply", json.dumps(REGION))
        call("GET", "/api/image?which=after")
        session.undo()

    try:
        row = {
            "blur in process": median_time(in_process, repeat) * 1000,
            "session apply": median_time(apply, repeat) * 1000,
            "new picture": sorted(picture() for _ in range(repeat))[repeat // 2] * 1000,
            "HTTP apply + picture": median_time(round_trip, repeat) * 1000,
        }
    finally:
        srv.shutdown()
        srv.server_close()
    return row


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    import specblur

    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    loaded = specblur.load_model(args.model)
    results = {
        name: measure(
            loaded, tone_file(work / f"clip{rate}_{channels}.wav", seconds, rate, channels), work, rate, args.repeat
        )
        for name, (seconds, rate, channels) in CLIPS.items()
    }
    headers = ["clip", "blur in process", "session apply", "new picture", "HTTP apply + picture", "ratio"]
    rows = [
        [
            name,
            r["blur in process"],
            r["session apply"],
            r["new picture"],
            r["HTTP apply + picture"],
            r["HTTP apply + picture"] / r["blur in process"],
        ]
        for name, r in results.items()
    ]
    text = table("specblur edit: Apply to new picture (median ms; ratio: round trip / in-process blur)", headers, rows)
    ok = all(results[name]["HTTP apply + picture"] <= 300 for name in TARGET_CLIPS)
    text += f"\n\ntarget: Apply to new picture on the 4 s clips <= 300 ms: {verdict(ok)}"
    report("editor", text, results, args.json)


if __name__ == "__main__":
    main()
