"""A pause point for tests, so that a test can send Ctrl-C or SIGTERM at a known moment (while the
output is being written, before it is renamed into place) instead of after a guessed delay.

Inert unless the environment variable ``SPECBLUR_TEST_PAUSE`` is set, which only the tests do, to
``NAME:WFD:RFD``: the first time the code reaches ``pause_point(NAME)`` it writes ``NAME`` and a
newline to file descriptor ``WFD`` and then blocks reading one byte from ``RFD`` (two pipes the test
passes to the child process). The test waits for the line, does what it wants (send a signal, look
at the folder), then writes a byte, or closes its end, to let the command go on. A signal that lands
during the wait is handled as anywhere else (Ctrl-C raises KeyboardInterrupt out of the read).
"""

from __future__ import annotations

import os

_done: set[str] = set()


def pause_point(name: str) -> None:
    """Wait here for the test, if ``SPECBLUR_TEST_PAUSE`` names this point (once per process)."""
    spec = os.environ.get("SPECBLUR_TEST_PAUSE")
    if not spec or name in _done:
        return
    point, wfd, rfd = spec.rsplit(":", 2)
    if point != name:
        return
    _done.add(name)
    os.write(int(wfd), f"{name}\n".encode())
    os.read(int(rfd), 1)
