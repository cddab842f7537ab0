"""Stopping long work from outside, between two of its steps.

A face that runs an edit on a thread of its own (the editor's server) and must be able to stop it
(Cancel, Ctrl-C, SIGTERM) runs it inside :func:`watching` with an event; the library's long loops
call :func:`check` between their steps (a window batch of the neural prior, a sweep or a round of
the Naive Bayes prior, a Griffin-Lim iteration, the stages of an edit), which raises
:class:`Stopped` once the event is set. The work is abandoned where it stands: nothing it made is
kept, so the caller keeps nothing either. Outside :func:`watching` (the command line, the API, a
batch worker) :func:`check` does nothing: their stop is the signal itself.

The event is per thread: one thread's Cancel never reaches another's work.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


class Stopped(Exception):  # noqa: N818 - it is a stop asked for, not an error
    """The work was asked to stop (:func:`watching`'s event was set) and stopped between two steps."""


@contextmanager
def watching(event: threading.Event) -> Iterator[None]:
    """Within this block, :func:`check` on this thread raises :class:`Stopped` once ``event`` is set."""
    before = getattr(_local, "event", None)
    _local.event = event
    try:
        yield
    finally:
        _local.event = before


def check() -> None:
    """Raise :class:`Stopped` if this thread's work was asked to stop; else nothing (and nothing
    outside :func:`watching`)."""
    event = getattr(_local, "event", None)
    if event is not None and event.is_set():
        raise Stopped
