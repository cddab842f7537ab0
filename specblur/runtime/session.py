"""One onnxruntime session helper for every graph the runtime runs (the VQ-VAE's encoder and decoder,
the neural priors), so their settings are made in one place."""

from __future__ import annotations

import os
from typing import Any

_THREADS: int | None = None


def default_threads() -> int:
    """onnxruntime's intra-op threads unless told otherwise: what :func:`set_threads` said, else up to
    4, never more than the machine has."""
    if _THREADS is not None:
        return _THREADS
    return max(1, min(4, os.cpu_count() or 1))


def set_threads(threads: int | None) -> None:
    """The intra-op threads of sessions made from now on (``None``: the default). A process of a pool
    of workers sets its share of the cores. The results do not depend on it (tested)."""
    global _THREADS
    _THREADS = None if threads is None else max(1, int(threads))


def session(data: bytes, threads: int | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU for the serialised graph ``data``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = default_threads() if threads is None else threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # idle pool threads sleep instead of spinning: the runtime alternates short runs with numpy work,
    # which spinning threads would slow (and under contention spinning costs more than it saves)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # no memory arena: it kept the largest run's buffers for good (a CLI blur of a 4 s 44.1 kHz clip
    # peaked at 152 MB with it, 135 MB without; in-process time the same, benchmarks/priors.py)
    options.enable_cpu_mem_arena = False
    # no memory pattern: with it each run asks for one block holding all of the run's intermediate
    # tensors, which the allocator maps afresh and the run faults in page by page; without it the
    # tensors come and go one by one from the heap. A 60 s whole-file blur on two tiles peaked at
    # 299-320 MB without, 320-372 MB with, in 5.6-6.0 s against 6.0-6.5 s (in process, three runs each,
    # benchmarks/whole_file.py's 44.1 kHz stereo test file)
    options.enable_mem_pattern = False
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
