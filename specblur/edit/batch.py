"""Many files, one edit each, on several processes: ``specblur blur IN... --output-dir DIR --jobs N``.

Each worker process loads the model once and takes files one at a time (the calling process, with
several jobs, never loads it); onnxruntime's threads are
shared out (the cores divided by the workers), and an edit's bytes do not depend on them, so ``--jobs
1`` and ``--jobs N`` write the same files (tested). With one job the files are edited here, in this
process. A file's problem (a bad header, a region that does not fit it) is its own: it is reported
and the others go on. Ctrl-C or SIGTERM stops every worker; what they were writing is removed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from specblur.edit import tiles
from specblur.edit.on_file import FileEdit, blur_file_regions
from specblur.errors import SpecblurError

Done = Callable[[int, int, str], None]
"""``(files done, files given, the file just done)``."""

_MODEL: Any = None
_NOT_LOADED: SpecblurError | None = None
_BUSY = False
"""Whether this worker is editing a file (a stop then raises, so that what it writes is removed)."""


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def edit_files(
    model: Any,
    pairs: list[tuple[str, str]],
    regions: list[dict[str, Any]],
    options: Any,
    jobs: int = 1,
    load: Callable[[Any], Any] | None = None,
    done: Done | None = None,
) -> Iterator[tuple[int, FileEdit | SpecblurError]]:
    """Edit each ``(src, dst)`` of ``pairs`` at ``regions`` with ``options`` (see
    :func:`specblur.edit.on_file.blur_file_regions`); yields ``(index, FileEdit or the file's
    SpecblurError)`` in the order of ``pairs``.

    ``model`` is a loaded model (used here when ``jobs`` is 1) or what ``load`` turns into one in
    each worker (a name or path; ``load`` defaults to :func:`specblur.runtime.loader.load_model`):
    with several jobs only the workers load it, each once, and a model that fails to load there
    (a damaged file) is raised here, as loading it here would raise it. ``done`` is called as each
    file is done, in the order they finish.
    """
    from specblur.runtime.loader import load_model

    load = load or load_model
    jobs = max(1, min(jobs, len(pairs)))
    if jobs == 1:
        loaded = load(model)
        for i, (src, dst) in enumerate(pairs):
            result = _one(loaded, src, dst, regions, options)
            if done is not None:
                done(i + 1, len(pairs), src)
            yield i, result
        return
    threads = max(1, default_jobs() // jobs)
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start, initargs=(model, load, threads))
    finished: dict[int, FileEdit | SpecblurError] = {}
    try:
        futures: dict[Future[Any], int] = {
            pool.submit(_work, src, dst, regions, options): i for i, (src, dst) in enumerate(pairs)
        }
        waiting = set(futures)
        following = 0
        while waiting:
            ready, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            for future in ready:
                i = futures[future]
                finished[i] = future.result()
                if done is not None:
                    done(len(finished), len(pairs), pairs[i][0])
            while following in finished:
                yield following, finished.pop(following)
                following += 1
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _one(loaded: Any, src: str, dst: str, regions: list[dict[str, Any]], options: Any) -> FileEdit | SpecblurError:
    try:
        return blur_file_regions(loaded, src, dst, regions, options)
    except SpecblurError as exc:
        return exc


def _start(model: Any, load: Callable[[Any], Any], threads: int) -> None:
    """A worker's start: SIGTERM or Ctrl-C stops it, quietly (while it edits a file, as Ctrl-C
    stops the command, so that the file is removed), and it loads the model once, with its share
    of the cores."""
    from specblur.runtime.session import set_threads

    def stop(signum: int, frame: Any) -> None:
        if _BUSY:
            raise KeyboardInterrupt
        os._exit(130)  # between files (or loading the model, or in the pool's own code): nothing to undo

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    os.environ.pop("SPECBLUR_TEST_PAUSE", None)  # the tests' pause pipes belong to the main process
    set_threads(threads)
    tiles.WORKERS = 1  # a long file's tiles one at a time: the files share the cores already
    global _MODEL, _NOT_LOADED
    try:
        _MODEL = load(model)
    except SpecblurError as exc:  # a damaged model file: the whole call's error, raised by each file's work
        _NOT_LOADED = exc


def _work(src: str, dst: str, regions: list[dict[str, Any]], options: Any) -> FileEdit | SpecblurError:
    global _BUSY
    if _NOT_LOADED is not None:
        raise _NOT_LOADED
    _BUSY = True
    try:
        return _one(_MODEL, src, dst, regions, options)
    finally:
        _BUSY = False


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now (each removes what it was writing) and wait for them."""
    pool.shutdown(wait=False, cancel_futures=True)
    for child in multiprocessing.active_children():
        child.terminate()
    for child in multiprocessing.active_children():
        child.join(timeout=5)
    # then let the executor see its workers gone and close its queues (else the semaphores behind them
    # outlive this process and multiprocessing's resource tracker warns about them on stderr); unless
    # this runs on the executor's own thread (the garbage collector may finalise an unfinished
    # edit_files anywhere), which cannot wait for itself
    pool.shutdown(wait=getattr(pool, "_executor_manager_thread", None) is not threading.current_thread())
