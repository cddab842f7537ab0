"""The neural prior over one code level, training side (torch): a small masked-token Transformer.

Cells are the codes of a window of the map (every row x ``window`` columns), a MASK token for
hidden cells and a PAD token for cells outside the map, embedded, plus at the bottom level an embedding
of the top code that covers each cell (MASK/PAD likewise); a 3 x 3 convolution adds each cell's
neighbours to it; each 2 x 2 patch of cells becomes one token (concatenated and projected) with
learned row and column position embeddings.
A pre-norm Transformer encoder (bidirectional: every cell sees every visible cell of the window)
gives each cell a distribution over the K codes. Training is masked prediction (as MaskGIT,
Chang et al. 2022): each window hides cells by one of three schemes, chosen at random: a random share
drawn from MaskGIT's cosine schedule; a rectangular hole of random size (often the full band), whose
top codes the bottom model is then also denied half of the time (repair hides them); or a random
share of such a rectangle (the blur's rounds); the loss is the cross-entropy on hidden cells. Adam
with a linear warm-up, a constant rate and a linear cool-down over the last fifth of the steps;
seeded (numpy generator for the windows and masks, torch's for the weights), resumable (the state is
saved every ``save_every`` seconds to ``state_path``).

:func:`fit_prior_nn` trains one, :func:`export_prior_nn` writes the ONNX graph that
:class:`specblur.priors.transformer.NeuralPrior` runs at edit time.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from specblur.priors.transformer import FORMAT, FORMAT_VERSION, WindowModel

OPSET = 17


@dataclass(frozen=True)
class PriorNNConfig:
    """Architecture and training of one level's neural prior."""

    level: str = "bottom"
    num_codes: int = 256
    rows: int = 32
    window: int = 24
    ratio: tuple[int, int] = (2, 2)
    """Bottom cells per top cell (rows, columns); (1, 1) at the top level."""
    top_codes: int = 0
    """Codebook size of the top level the bottom model sees (0: none, the top level itself)."""
    patch: tuple[int, int] = (2, 2)
    """Cells per token (rows, columns): a token is a patch of cells, so attention is over fewer tokens."""
    embed: int = 64
    """Width of a cell's embedding; a patch's cell embeddings are concatenated and projected to ``dim``."""
    dim: int = 128
    layers: int = 4
    heads: int = 4
    ffn: int = 512
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    steps: int = 3000
    warmup: int = 200
    cooldown: float = 0.2
    grad_clip: float = 1.0
    save_every: float = 180.0

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PriorNNConfig:
        data = dict(data)
        data["ratio"] = tuple(data["ratio"])
        data["patch"] = tuple(data["patch"])
        return cls(**data)


PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "tiny": {
        "dim": 32,
        "embed": 16,
        "layers": 2,
        "heads": 2,
        "ffn": 64,
        "window": 8,
        "batch": 16,
        "lr": 3e-3,
        "steps": 150,
        "warmup": 20,
        "save_every": 1e9,
    },
}
"""Named settings over :class:`PriorNNConfig`'s defaults: ``tiny`` trains in seconds, for tests."""


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ffn), nn.GELU(), nn.Linear(ffn, dim))

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax((q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(d // self.heads)), dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, n, d))
        return x + self.ff(self.norm2(x))


class PriorNN(nn.Module, WindowModel):
    """The Transformer of one level, its :class:`PriorNNConfig` and ``record`` (training and held-out
    measures). As a :class:`~specblur.priors.transformer.WindowModel` it also offers ``resample``,
    ``fill`` and ``evaluate`` on numpy maps, computed with torch (the runtime computes the same with
    onnxruntime)."""

    def __init__(self, config: PriorNNConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.level, self.num_codes, self.rows, self.window, self.ratio = c.level, c.num_codes, c.rows, c.window, c.ratio
        self.temperature = 1.0
        self.record: dict[str, Any] = {}
        pr, pc = c.patch
        if c.rows % pr or c.window % pc:
            raise ValueError(f"{c.rows} rows x {c.window} columns do not split into patches of {c.patch}")
        self.tokens = nn.Embedding(c.num_codes + 2, c.embed)  # codes, MASK, PAD
        if c.top_codes:
            fr, fc = c.ratio
            self.top_tokens = nn.Embedding(c.top_codes + 2, c.embed)
            top_index = (torch.arange(c.rows)[:, None] // fr) * (c.window // fc) + torch.arange(c.window)[None, :] // fc
            self.register_buffer("top_index", top_index.reshape(-1), persistent=False)
        # each cell's embedding also sees its 8 neighbours (a 3 x 3 convolution) before cells are grouped
        # into tokens: the local structure Naive Bayes lives on is there from the first step
        self.stem = nn.Conv2d(c.embed, c.embed, 3, padding=1)
        self.patch_in = nn.Linear(pr * pc * c.embed, c.dim)
        self.row_embed = nn.Parameter(torch.randn(c.rows // pr, c.dim) * 0.02)
        self.col_embed = nn.Parameter(torch.randn(c.window // pc, c.dim) * 0.02)
        self.blocks = nn.ModuleList(_Block(c.dim, c.heads, c.ffn) for _ in range(c.layers))
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, pr * pc * c.num_codes)
        nn.init.normal_(self.tokens.weight, std=0.02)
        if c.top_codes:
            nn.init.normal_(self.top_tokens.weight, std=0.02)

    @property
    def uses_top(self) -> bool:
        return bool(self.config.top_codes)

    def forward(self, codes: Tensor, mask: Tensor, top: Tensor | None = None, top_mask: Tensor | None = None) -> Tensor:
        """``(B, R, W)`` codes (-1 outside the map) and mask → ``(B, R, W, K)`` log-probabilities."""
        c = self.config
        b = codes.shape[0]
        k = c.num_codes
        pr, pc = c.patch
        gr, gc = c.rows // pr, c.window // pc
        ids = torch.where(codes < 0, torch.full_like(codes, k + 1), codes)
        ids = torch.where(mask, torch.full_like(ids, k), ids)
        cells = self.tokens(ids)  # (B, R, W, E)
        if c.top_codes:
            kt = c.top_codes
            assert top is not None and top_mask is not None
            tid = torch.where(top < 0, torch.full_like(top, kt + 1), top)
            tid = torch.where(top_mask, torch.full_like(tid, kt), tid)
            cells = cells + self.top_tokens(tid.reshape(b, -1))[:, self.top_index].reshape(b, c.rows, c.window, -1)
        cells = cells + torch.nn.functional.gelu(self.stem(cells.permute(0, 3, 1, 2))).permute(0, 2, 3, 1)
        # patches: (B, gr, pr, gc, pc, E) -> (B, gr, gc, pr * pc * E)
        x = cells.reshape(b, gr, pr, gc, pc, c.embed).permute(0, 1, 3, 2, 4, 5).reshape(b, gr, gc, pr * pc * c.embed)
        x = self.patch_in(x) + self.row_embed[None, :, None, :] + self.col_embed[None, None, :, :]
        x = x.reshape(b, gr * gc, c.dim)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.norm(x)).reshape(b, gr, gc, pr, pc, k).permute(0, 1, 3, 2, 4, 5)
        return torch.log_softmax(logits.reshape(b, c.rows, c.window, k), dim=-1)

    def predict(self, codes: np.ndarray, mask: np.ndarray, top: Any = None, top_mask: Any = None) -> np.ndarray:
        """numpy in, numpy out (the runtime's interface), in eval mode without gradients."""
        was = self.training
        self.eval()
        with torch.no_grad():
            t = tm = None
            if self.uses_top:
                if top is None:
                    fr, fc = self.ratio
                    top = np.zeros((codes.shape[0], self.rows // fr, self.window // fc), dtype=np.int64)
                    top_mask = np.ones_like(top, dtype=bool)
                t, tm = torch.from_numpy(np.asarray(top, dtype=np.int64)), torch.from_numpy(np.asarray(top_mask, bool))
            out = self(
                torch.from_numpy(np.asarray(codes, dtype=np.int64)), torch.from_numpy(np.asarray(mask, bool)), t, tm
            )
        self.train(was)
        return out.numpy()

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


# -- training data ----------------------------------------------------------------------------------
class Windows:
    """Random training windows and masks drawn from a list of maps (numpy, seeded by the caller's rng)."""

    def __init__(self, maps: list[np.ndarray], config: PriorNNConfig, top_maps: list[np.ndarray] | None) -> None:
        self.c = config
        self.maps = [np.asarray(m, dtype=np.int64) for m in maps]
        self.tops = [np.asarray(t, dtype=np.int64) for t in top_maps] if top_maps is not None else None
        for m in self.maps:
            if m.ndim != 2 or m.shape[0] != config.rows:
                raise ValueError(f"code maps must be ({config.rows}, columns); got {m.shape}")
        self.cols = np.array([m.shape[1] for m in self.maps])
        self.rr, self.cc = np.meshgrid(np.arange(config.rows), np.arange(config.window), indexing="ij")

    def batch(self, rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
        c = self.c
        w, fr, fc = c.window, c.ratio[0], c.ratio[1]
        align = fc if self.tops is not None else 1
        codes = np.empty((size, c.rows, w), dtype=np.int64)
        mask = np.zeros((size, c.rows, w), dtype=bool)
        top = np.empty((size, c.rows // fr, w // fc), dtype=np.int64) if self.tops is not None else None
        top_mask = np.zeros((size, c.rows // fr, w // fc), dtype=bool) if self.tops is not None else None
        for b in range(size):
            i = int(rng.integers(len(self.maps)))
            cols = int(self.cols[i])
            lo, hi = -(w // 4), max(cols - w + w // 4, -(w // 4))
            start = int(rng.integers(lo, hi + 1))
            start -= start % align
            codes[b] = _cut(self.maps[i], start, w)
            valid = codes[b] >= 0
            hidden, deny_top = self._mask(rng, valid)
            mask[b] = hidden
            if top is not None and self.tops is not None and top_mask is not None:
                top[b] = _cut(self.tops[i], start // fc, w // fc)
                if deny_top == "all":
                    top_mask[b] = True
                elif deny_top == "hole":
                    top_mask[b] = hidden.reshape(c.rows // fr, fr, w // fc, fc).any(axis=(1, 3))
        out = {"codes": codes, "mask": mask}
        if top is not None:
            out |= {"top": top, "top_mask": top_mask}
        return out

    def _mask(self, rng: np.random.Generator, valid: np.ndarray) -> tuple[np.ndarray, str]:
        c = self.c
        rows, w = c.rows, c.window
        kind = rng.random()
        deny = "all" if rng.random() < 0.05 else ""
        if kind < 0.4:  # MaskGIT's cosine schedule
            ratio = math.cos(math.pi / 2 * rng.random())
            hidden = rng.random((rows, w)) < ratio
        elif kind < 0.55:  # sparse: near single-cell conditionals
            hidden = rng.random((rows, w)) < rng.uniform(0.01, 0.15)
        else:  # a rectangle (a hole or a blur region), whole or a random share of it
            width = int(rng.integers(1, max(2, (3 * w) // 4) + 1))
            c0 = int(rng.integers(0, w - width + 1))
            if rng.random() < 0.4:
                r0, r1 = 0, rows
            else:
                height = int(rng.integers(1, rows + 1))
                r0 = int(rng.integers(0, rows - height + 1))
                r1 = r0 + height
            rect = np.zeros((rows, w), dtype=bool)
            rect[r0:r1, c0 : c0 + width] = True
            if rng.random() < 0.3:
                hidden = rect & (rng.random((rows, w)) < math.cos(math.pi / 2 * rng.random()))
            else:
                hidden = rect
                if not deny and rng.random() < 0.5:
                    deny = "hole"
        hidden &= valid
        if not hidden.any():
            r, col = np.nonzero(valid)
            pick = int(rng.integers(len(r)))
            hidden[r[pick], col[pick]] = True
        return hidden, deny


def _cut(m: np.ndarray, start: int, width: int) -> np.ndarray:
    from specblur.priors.transformer import cut

    return cut(m, start, width)


def _lr(step: int, c: PriorNNConfig, total: int) -> float:
    if step < c.warmup:
        return c.lr * (step + 1) / c.warmup
    cool = int(total * c.cooldown)
    if step >= total - cool and cool > 0:
        return c.lr * (total - step) / cool
    return c.lr


# -- fitting ----------------------------------------------------------------------------------------
def fit_prior_nn(
    maps: list[np.ndarray],
    num_codes: int,
    *,
    level: str,
    top_maps: list[np.ndarray] | None = None,
    preset: str = "default",
    steps: int | None = None,
    seed: int = 0,
    state_path: Path | None = None,
    resume: bool = False,
    log: Callable[[str], None] = print,
    heldout: Any = None,
    stop_at: float | None = None,
    top_codes: int | None = None,
    threads: int | None = None,
    until: int | None = None,
    **overrides: Any,
) -> PriorNN:
    """Train the neural prior of one level on ``maps`` (each ``(rows, cols)`` int; for ``level="bottom"``
    ``top_maps`` aligned with them).

    ``preset`` picks the architecture (``default``: d=128, 4 layers, 4 heads, 2 x 2 cells per token,
    windows of 24 columns; ``tiny``: trains in seconds), ``steps`` overrides its step count, ``overrides`` any other
    :class:`PriorNNConfig` field. ``state_path``: where the resumable state goes (every
    ``save_every`` seconds and at the end); ``resume`` continues it. ``heldout``: ``(maps, top_maps)``
    measured at the end (and logged every 500 steps on a few of them), into ``prior.record``.
    ``stop_at`` (a ``time.time()``): a deadline; when the steps would not fit before it, the cool-down
    is brought forward (from the measured speed) so it still ends at the last step reached, the state
    is saved and the record says ``finished: false``; ``until``: likewise, after that step. Same seed,
    data and machine: same weights.
    ``threads``: torch's thread count while training, restored after (on a busy 2-core machine one
    thread per run trained twice as fast as two).
    """
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _fit(
            maps,
            num_codes,
            level,
            top_maps,
            preset,
            steps,
            seed,
            state_path,
            resume,
            log,
            heldout,
            stop_at,
            top_codes,
            until,
            overrides,
        )
    finally:
        torch.set_num_threads(previous_threads)


def _fit(maps, num_codes, level, top_maps, preset, steps, seed, state_path, resume, log, heldout, stop_at, top_codes,
         until, overrides) -> PriorNN:  # fmt: skip
    if level not in ("top", "bottom"):
        raise ValueError(f"level must be top or bottom, got {level!r}")
    if level == "bottom" and top_maps is None:
        raise ValueError("the bottom level's prior needs the top code maps (top_maps)")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
    rows = int(np.asarray(maps[0]).shape[0])
    fields: dict[str, Any] = {**PRESETS[preset], **overrides}
    if steps is not None:
        fields["steps"] = steps
    if level == "bottom":
        assert top_maps is not None
        t0, b0 = np.asarray(top_maps[0]), np.asarray(maps[0])
        fields["ratio"] = (b0.shape[0] // t0.shape[0], max(1, round(b0.shape[1] / t0.shape[1])))
        fields["top_codes"] = int(top_codes or max(num_codes, max(int(np.max(t)) + 1 for t in top_maps)))
    else:
        fields["ratio"] = (1, 1)
        fields["top_codes"] = 0
    config = PriorNNConfig(level=level, num_codes=num_codes, rows=rows, **fields)
    if config.window % config.ratio[1]:
        raise ValueError(f"window {config.window} is not a whole number of top cells ({config.ratio[1]} columns)")
    torch.manual_seed(seed)
    model = PriorNN(config)
    data = Windows(maps, config, top_maps if level == "bottom" else None)
    rng = np.random.default_rng(seed)
    decay = [p for n, p in model.named_parameters() if p.ndim == 2 and "embed" not in n and "tokens" not in n]
    other = [p for n, p in model.named_parameters() if not (p.ndim == 2 and "embed" not in n and "tokens" not in n)]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": other, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(0.9, 0.98),
    )
    from specblur.learn import distributed

    rank, size = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if distributed.active() else (0, 1)
    net: nn.Module = model
    if size > 1:
        # every rank draws the whole batch of windows from the same generator and trains on its share
        # (rows [rank x batch / size, (rank + 1) x batch / size)): the same windows per step whatever
        # the number of processes; DistributedDataParallel averages the gradients
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, process_group=distributed.cpu_group())  # on the CPU: gloo
    lo, hi = rank * config.batch // size, (rank + 1) * config.batch // size
    step, wall, history = 0, 0.0, []
    if resume:
        if state_path is None or not Path(state_path).is_file():
            raise FileNotFoundError(f"--resume: no saved state {state_path}")
        state = torch.load(state_path, weights_only=False)
        if PriorNNConfig.from_dict(state["config"]) != config:
            raise ValueError(f"{state_path} was trained with another config; use the same preset and steps")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, wall, history = int(state["step"]), float(state["wall"]), list(state["history"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        log(f"resuming the {level} prior at step {step}")
    log(f"{level} prior: {model.parameter_count():,} parameters, {config.steps} steps of {config.batch} windows")

    def save() -> None:
        if state_path is None or rank != 0:
            return
        Path(state_path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(str(state_path) + ".tmp")
        torch.save(
            {
                "config": config.to_dict(),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "wall": wall,
                "history": history,
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
            },
            tmp,
        )
        tmp.replace(state_path)

    model.train()
    started = time.perf_counter() - wall
    last_save = time.perf_counter()
    running = None
    finished = True
    total = config.steps
    pace: list[tuple[int, float]] = [(step, time.perf_counter())]  # (step, time) of recent steps
    while step < total:
        if (stop_at is not None and time.time() >= stop_at) or (until is not None and step >= until):
            finished = False
            log(f"stopping at step {step} of {config.steps}")
            break
        if stop_at is not None and step % 20 == 0 and step > pace[0][0]:
            # a deadline: from the pace of the last 200 steps, the step count that fits before it; the
            # cool-down is placed to end there (before it starts the count may grow back when the
            # machine speeds up; once it has started, only shrink)
            pace = [*pace[-10:], (step, time.perf_counter())]
            rate = (pace[-1][1] - pace[0][1]) / (pace[-1][0] - pace[0][0])
            reachable = min(config.steps, max(step + 1, step + int(0.98 * (stop_at - time.time()) / rate)))
            cooling = step >= total - int(total * config.cooldown)
            total = min(total, reachable) if cooling else reachable
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, config, total)
        batch = {k: torch.from_numpy(v[lo:hi]) for k, v in data.batch(rng, config.batch).items()}
        log_p = net(batch["codes"], batch["mask"], batch.get("top"), batch.get("top_mask"))
        target = batch["codes"].clamp(min=0)
        nll = -log_p.gather(-1, target[..., None])[..., 0]
        loss = nll[batch["mask"]].mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        step += 1
        wall = time.perf_counter() - started
        value = float(loss.detach()) / math.log(2)
        running = value if running is None else 0.98 * running + 0.02 * value
        if step % 100 == 0 or step == total:
            entry: dict[str, Any] = {"step": step, "wall_seconds": round(wall, 1), "train_bits": round(running, 4)}
            if heldout is not None and (step % 500 == 0 or step == total):
                few = (heldout[0][:8], heldout[1][:8] if heldout[1] is not None else None)
                quick = model.evaluate(few[0], few[1], offsets=2)
                entry |= {"heldout_bits": round(quick["bits"], 4), "heldout_bits_half": round(quick["bits_half"], 4)}
            history.append(entry)
            log(" ".join(f"{k} {v}" for k, v in entry.items()))
        if time.perf_counter() - last_save >= config.save_every:
            save()
            last_save = time.perf_counter()
    save()
    model.eval()
    model.record = {
        "level": level,
        "preset": preset,
        "seed": seed,
        "steps": step,
        "planned_steps": config.steps,
        "finished": finished and step >= config.steps,
        "cooled_down": step >= total,
        "wall_seconds": round(wall, 1),
        "parameters": model.parameter_count(),
        "train_maps": len(maps),
        "config": config.to_dict(),
        "history": history,
    }
    if heldout is not None:
        model.record["heldout"] = model.evaluate(heldout[0], heldout[1])
        model.record["heldout_maps"] = len(heldout[0])
        log(f"{level} prior held out: " + json.dumps(model.record["heldout"]))
    return model


def load_state(state_path: Path) -> PriorNN:
    """The model saved in a training state file (to export a run that was stopped)."""
    state = torch.load(state_path, weights_only=False)
    model = PriorNN(PriorNNConfig.from_dict(state["config"]))
    model.load_state_dict(state["model"])
    model.eval()
    model.record = {"steps": int(state["step"]), "wall_seconds": float(state["wall"]), "history": state["history"]}
    return model


# -- export -----------------------------------------------------------------------------------------
from specblur.learn.export import _quiet_exporter  # noqa: E402  (one way to silence the exporter)


def export_prior_nn(prior: PriorNN) -> bytes:
    """The ONNX graph (opset 17, batch axis dynamic, window fixed) of a trained prior, with metadata
    ``specblur.format``, ``specblur.format_version`` and ``specblur.learn.prior_transformer`` (JSON: level, window,
    rows, num_codes, ratio, the config and the training record without its history)."""
    c = prior.config
    was = prior.training
    prior.eval()
    b = 2
    codes = torch.randint(0, c.num_codes, (b, c.rows, c.window))
    mask = torch.rand(b, c.rows, c.window) < 0.5
    args: tuple[Any, ...] = (codes, mask)
    names = ["codes", "mask"]
    batch = torch.export.Dim("batch", min=1, max=4096)
    dynamic: dict[str, Any] = {"codes": {0: batch}, "mask": {0: batch}}
    if c.top_codes:
        fr, fc = c.ratio
        top = torch.randint(0, c.top_codes, (b, c.rows // fr, c.window // fc))
        top_mask = torch.rand(top.shape) < 0.5
        args += (top, top_mask)
        names += ["top", "top_mask"]
        dynamic |= {"top": {0: batch}, "top_mask": {0: batch}}
    try:
        with torch.no_grad(), _quiet_exporter():
            program = torch.onnx.export(
                prior,
                args,
                dynamo=True,
                opset_version=OPSET,
                input_names=names,
                output_names=["log_probs"],
                dynamic_shapes=dynamic,
                verbose=False,
            )
    finally:
        prior.train(was)
    proto = program.model_proto
    del proto.metadata_props[:]
    info = {
        "level": c.level,
        "window": c.window,
        "rows": c.rows,
        "num_codes": c.num_codes,
        "ratio": list(c.ratio),
        "top_codes": c.top_codes,
        "config": c.to_dict(),
        "parameters": prior.parameter_count(),
        "record": {k: v for k, v in prior.record.items() if k != "history"},
    }
    meta = {
        "specblur.format": FORMAT,
        "specblur.format_version": str(FORMAT_VERSION),
        "specblur.prior_nn": json.dumps(info, sort_keys=True, default=float),
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()
