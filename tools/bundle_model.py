"""Ship a trained checkpoint with specblur: ``python tools/bundle_model.py CHECKPOINT NAME [--half]``.

Verifies the checkpoint loads, writes it to ``models/NAME.pt`` (with ``--half``, its weights rounded
to and stored as float16: half the size; check with ``tools/evaluate.py`` that quality holds), writes
its runtime form ``models/NAME.onnx.npz`` (ONNX graphs and prior arrays: what edits load, without
torch; verified by loading it) and writes both sha256s into ``models/MANIFEST`` (replacing older
lines for NAME). Needs the training extra.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("name")
    parser.add_argument("--half", action="store_true", help="store the weights as float16")
    parser.add_argument(
        "--prior-nn",
        action="append",
        default=[],
        metavar="LEVEL=ONNX",
        help="add a neural prior trained apart (tools/train_prior_nn.py), e.g. bottom=models/x.onnx",
    )
    parser.add_argument(
        "--prior-nn-metrics",
        type=Path,
        help="JSON {level: {neural: metrics, naive_bayes: metrics}}, both priors scored on the same held-out "
        "maps; the model's default prior becomes the one with fewer bits per bottom code",
    )
    parser.add_argument(
        "--default-prior",
        choices=["measured", "naive-bayes", "transformer"],
        default="measured",
        help="the prior edits use by default: 'measured' (fewer held-out bits per bottom code) or a fixed one",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from specblur.learn import checkpoint, export
    from specblur.runtime import model as runtime
    from specblur.runtime import registry

    registry.check_name(args.name)
    loaded = checkpoint.load(args.checkpoint)  # refuses anything that would not load for users
    if args.prior_nn:
        import json

        from specblur.learn.train import better_prior
        from specblur.priors.transformer import NeuralPrior

        for item in args.prior_nn:
            level, _, file = item.partition("=")
            graph = Path(file).read_bytes()
            if NeuralPrior(graph).level != level:
                raise SystemExit(f"{file}: not the {level} level's prior")
            loaded.prior_nn[level] = graph
        measured = json.loads(args.prior_nn_metrics.read_text()) if args.prior_nn_metrics else {}
        # both priors scored on the same held-out maps (the training record's Naive Bayes figures come
        # from other notes, so they are not compared with)
        neural = {level: m["neural"] for level, m in measured.items() if "neural" in m}
        naive = {level: m["naive_bayes"] for level, m in measured.items() if "naive_bayes" in m}
        loaded.training["prior_nn"] = neural
        loaded.training["prior_compared"] = measured
        loaded.default_prior = better_prior(naive, neural)
        print(f"default prior: {loaded.default_prior}")
    if args.default_prior != "measured":
        loaded.default_prior = args.default_prior
        print(f"default prior: {loaded.default_prior} (fixed)")
    target = ROOT / "models" / f"{args.name}.pt"
    if args.half or args.prior_nn or args.default_prior != "measured":
        data = checkpoint.to_bytes(
            loaded.model,
            args.name,
            loaded.training,
            loaded.extra,
            loaded.prior,
            half=args.half,
            prior_nn=loaded.prior_nn,
            default_prior=loaded.default_prior,
        )
        target.write_bytes(data)
        checkpoint.load(target)
    else:
        shutil.copyfile(args.checkpoint, target)
    runtime_target = export.write_runtime(checkpoint.load(target), export.runtime_path(target))
    runtime.load(runtime_target)
    manifest = ROOT / "models" / "MANIFEST"
    lines = [ln for ln in manifest.read_text().splitlines() if ln.split()[:1] != [args.name]]
    for path in (target, runtime_target):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{args.name} {path.name} {digest}")
        print(f"bundled {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 {digest[:16]}…)")
    manifest.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
