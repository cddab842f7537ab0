"""Peak memory of the training data path over a corpus (run as a script by tests/test_train_scale.py
and benchmarks/train_scaling.py): ``python tests/memory_probe.py memory|stream DIR [STEPS]``.

It does what ``specblur train`` does with its data for STEPS steps of 16 crops (the in-memory path:
decode everything, then crop; streamed: a DataLoader worker decodes each crop's span) and prints one
JSON line: the peak resident memory of this process (its workers decode one crop at a time), in MB.
Linux only (it reads ``/proc/self/status``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def high_water_mb() -> float:
    """This process's own peak resident memory (``VmHWM``: ``ru_maxrss`` starts from the parent's size
    at the fork, so a probe started by a large process would read the parent's)."""
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))


def main() -> None:
    mode, root = sys.argv[1], Path(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    from torch.utils.data import DataLoader

    from specblur.learn import data

    items = data.collect([root])
    rate, samples, batch = 16000, 127 * 256, 16
    baseline = high_water_mb()
    if mode == "memory":
        crops = data.Crops(data.load_waves(items, rate), samples)
        order = data.Order(len(crops.waves), 0)
        for step in range(steps):
            crops.take(data.Order.rows(step, batch, 0, 1), order)
    else:
        order = data.Order(len(items), 0)
        stream = data.StreamedCrops([it.where for it in items], order, rate, samples)
        loader = DataLoader(
            stream, batch_sampler=data.StepBatches(0, steps, batch, 0, 1), num_workers=1, collate_fn=data.collate
        )
        for _ in loader:
            pass
    print(json.dumps({"files": len(items), "baseline_mb": baseline, "peak_mb": high_water_mb()}))


if __name__ == "__main__":
    main()
