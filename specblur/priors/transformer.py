"""The neural prior at edit time: a masked-token Transformer over a window of one code level, run by
onnxruntime (numpy and onnxruntime only; torch is never imported here).

:func:`specblur.learn.prior_transformer.export_prior_nn` writes the graph: inputs ``codes`` ``(B, R, W)`` int64 (a
code, or -1 for a cell outside the map), ``mask`` ``(B, R, W)`` bool (true: hidden, the model sees a
MASK token there and never the code), and for the bottom level ``top`` ``(B, R/fr, W/fc)`` int64 and
``top_mask`` of the same shape (the covering top codes, -1 outside, hidden where true); output
``log_probs`` ``(B, R, W, K)`` float32, each cell's distribution over the K codes given the visible
cells of the window. ``R`` is every row of the level's map and ``W`` a fixed window of columns; maps
wider than the window are covered by several windows, each cell's distribution taken from the window
in which it sits most centrally, so every cell sees at least a sixth of a window of context on each side
(except at the map's ends).

:class:`NeuralPrior` offers what the edit path calls on :class:`specblur.priors.naive_bayes.LevelPrior`:
``resample`` (the blur: rounds of hiding a random part of the region and drawing it from the rest),
``fill`` (repair: iterative unmasking, most confident first, the hole's own codes never looked at),
``temperature``, ``num_codes``, and ``evaluate`` (bits per code on held-out maps).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from specblur import cancel
from specblur.priors.base import unmask

WINDOW_BATCH = 4
"""Windows per model run when the blur redraws a long span (memory follows it, not the span's length;
the same speed: benchmarks/long_files.py)."""

FORMAT = "specblur-prior-nn"
FORMAT_VERSION = 1

Predict = Callable[[np.ndarray, np.ndarray, Any, Any], np.ndarray]
"""``(codes, mask, top, top_mask) -> log_probs``: one batch of windows through the model."""


# -- geometry shared with training ------------------------------------------------------------------
def window_starts(cols: int, c0: int, c1: int, window: int, align: int = 1) -> tuple[list[int], np.ndarray]:
    """Windows of ``window`` columns covering columns ``[c0, c1)`` of a map ``cols`` wide.

    Returns (window starts, ``(c1 - c0,)`` index of the window that owns each column: the one where it
    sits most centrally). Starts are multiples of ``align`` (the bottom level's windows line up with
    whole top cells); a map narrower than the window gets one window at 0, padded on the right.
    """
    if cols <= window:
        return [0], np.zeros(c1 - c0, dtype=np.int64)
    last = cols - window
    margin = window // 6
    core = max(1, window - 2 * margin)

    def place(s: int) -> int:
        s = min(max(s, 0), last)
        return s - s % align

    if c1 - c0 <= core:
        centre = (c0 + c1) // 2
        starts = [place(centre - window // 2)]
    else:
        starts = sorted({place(c0 - margin + k * core) for k in range(-(-(c1 - c0) // core))})
    column = np.arange(c0, c1)
    centres = np.array(starts, dtype=np.float64) + (window - 1) / 2
    owner = np.argmin(np.abs(column[:, None] - centres[None, :]), axis=1)
    return starts, owner


def cut(maps: np.ndarray, start: int, width: int) -> np.ndarray:
    """Columns ``[start, start + width)`` of ``(..., rows, cols)`` maps, -1 where outside."""
    cols = maps.shape[-1]
    out = np.full(maps.shape[:-1] + (width,), -1, dtype=np.int64)
    lo, hi = max(start, 0), min(start + width, cols)
    if hi > lo:
        out[..., lo - start : hi - start] = maps[..., lo:hi]
    return out


def _top_cover(hole: np.ndarray, ratio: tuple[int, int], top_shape: tuple[int, int]) -> np.ndarray:
    """Top cells that cover any cell of a bottom ``hole``."""
    fr, fc = ratio
    rows, cols = top_shape
    padded = np.zeros((rows * fr, cols * fc), dtype=bool)
    r, c = min(hole.shape[0], rows * fr), min(hole.shape[1], cols * fc)
    padded[:r, :c] = hole[:r, :c]
    return padded.reshape(rows, fr, cols, fc).any(axis=(1, 3))


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _draw(log_p: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """One code per row of ``(n, K)`` log-probabilities, by inverse CDF at ``uniforms``."""
    cdf = np.cumsum(np.exp(log_p - log_p.max(axis=1, keepdims=True)), axis=1)
    drawn = (cdf < uniforms[:, None] * cdf[:, -1:]).sum(axis=1)
    return np.minimum(drawn, log_p.shape[1] - 1)


class WindowModel:
    """Geometry and the window sweep shared by :class:`NeuralPrior` and the training side."""

    num_codes: int
    rows: int
    window: int
    level: str
    ratio: tuple[int, int]
    """Bottom cells per top cell (rows, columns); (1, 1) for the top level."""
    temperature: float = 1.0

    def predict(self, codes: np.ndarray, mask: np.ndarray, top: Any = None, top_mask: Any = None) -> np.ndarray:
        raise NotImplementedError

    @property
    def uses_top(self) -> bool:
        return self.level == "bottom"

    def _check(self, codes: np.ndarray, top: Any) -> None:
        if codes.ndim != 2 or codes.shape[0] != self.rows:
            raise ValueError(
                f"expected a ({self.rows}, columns) code map for the {self.level} level, got {codes.shape}"
            )
        if top is not None and self.uses_top:
            fr, fc = self.ratio
            want = (self.rows // fr, -(-codes.shape[1] // fc))
            if top.shape != want:
                raise ValueError(f"top code map of shape {top.shape} does not cover the bottom map (expected {want})")

    def window_log_probs(
        self,
        codes: np.ndarray,
        mask: np.ndarray,
        columns: tuple[int, int],
        top: Any = None,
        top_mask: Any = None,
    ) -> np.ndarray:
        """``(rows, c1 - c0, K)`` log-probabilities of the cells of columns ``[c0, c1)`` of one map,
        each from the window that owns its column, with ``mask`` hidden."""
        return np.concatenate([log_p for _, log_p in self.window_batches(codes, mask, columns, top, top_mask)], axis=1)

    def window_batches(
        self,
        codes: np.ndarray,
        mask: np.ndarray,
        columns: tuple[int, int],
        top: Any = None,
        top_mask: Any = None,
        batch: int | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """:meth:`window_log_probs` a few windows at a time (``batch``: how many per model run;
        default :data:`WINDOW_BATCH`): ``(first column, (rows, n, K) log-probabilities)`` of the
        columns those windows own, in order. The windows are those of the whole span, so the result
        is the same whatever the batch; memory follows the batch, not the span."""
        c0, c1 = columns
        cols = codes.shape[1]
        fr, fc = self.ratio
        starts, owner = window_starts(cols, c0, c1, self.window, fc if self.uses_top else 1)
        if self.uses_top:
            if top is None:
                top = np.zeros((self.rows // fr, -(-cols // fc)), dtype=np.int64)
                top_mask = np.ones_like(top, dtype=bool)
            elif top_mask is None:
                top_mask = np.zeros_like(top, dtype=bool)
        step = batch or WINDOW_BATCH
        hidden = mask.astype(np.int64)
        for w0 in range(0, len(starts), step):
            w1 = min(w0 + step, len(starts))
            own = np.flatnonzero((owner >= w0) & (owner < w1))
            if not len(own):
                continue
            cancel.check()
            some = starts[w0:w1]
            batch_codes = np.stack([cut(codes, s, self.window) for s in some])
            batch_mask = np.stack([cut(hidden, s, self.window) > 0 for s in some])
            batch_top = batch_top_mask = None
            if self.uses_top:
                tw = self.window // fc
                batch_top = np.stack([cut(top, s // fc, tw) for s in some])
                batch_top_mask = np.stack([cut(top_mask.astype(np.int64), s // fc, tw) > 0 for s in some])
            log_p = self.predict(batch_codes, batch_mask, batch_top, batch_top_mask)
            column = c0 + own
            local = column - np.asarray(starts)[owner[own]]
            yield int(column[0]), log_p[owner[own] - w0, :, local].transpose(1, 0, 2)

    # -- the edit path -----------------------------------------------------------------------------
    def resample(
        self,
        codes: np.ndarray,
        mask: np.ndarray,
        rng: np.random.Generator,
        sweeps: int = 3,
        temperature: float | None = None,
        top: Any = None,
        parts: int = 2,
    ) -> np.ndarray:
        """Redraw the cells where ``mask`` is true (or, for a float ``mask`` in [0, 1], each cell with
        that probability per sweep: a brush) given the rest of one ``(rows, cols)`` code map.

        Each of ``sweeps`` sweeps splits the cells chosen for it into ``parts`` random parts; each part
        in turn is hidden and drawn at once from the model given everything else (the other parts at
        their current codes), at ``temperature`` (default: :attr:`temperature`). Cells outside the
        mask never change. For the bottom level, ``top`` is the top code map (all visible; ``None``:
        the model sees no top codes). Same ``rng`` state, same result.
        """
        t = self.temperature if temperature is None else temperature
        out = np.array(codes, dtype=np.int64, copy=True)
        self._check(out, top)
        weight = np.asarray(mask, dtype=np.float64)
        if weight.shape != out.shape:
            raise ValueError(f"mask of shape {weight.shape} does not match the codes {out.shape}")
        live = np.flatnonzero((weight > 0).any(axis=0))
        if not len(live):
            return out
        columns = (int(live[0]), int(live[-1]) + 1)
        top = None if top is None else np.asarray(top, dtype=np.int64)
        for _ in range(sweeps):
            chosen = rng.random(out.shape) < weight
            part = rng.integers(0, parts, size=out.shape)
            for p in range(parts):
                hidden = chosen & (part == p)
                if not hidden.any():
                    continue
                sub = hidden[:, columns[0] : columns[1]]
                i, j = np.nonzero(sub)
                uniforms = rng.random(len(i))
                drawn = np.empty(len(i), dtype=np.int64)
                # a few windows at a time; the hidden cells are masked, so drawing them batch by batch
                # gives what one run over the whole span would
                for first, log_p in self.window_batches(out, hidden, columns, top):
                    here = np.flatnonzero((j + columns[0] >= first) & (j + columns[0] < first + log_p.shape[1]))
                    if len(here):
                        cells = log_p[i[here], j[here] + columns[0] - first] / t
                        drawn[here] = _draw(cells, uniforms[here])
                out[i, j + columns[0]] = drawn
        return out

    def fill(
        self,
        codes: np.ndarray,
        hole: np.ndarray,
        rng: np.random.Generator,
        steps: int = 8,
        temperature: float | None = None,
        top: Any = None,
        top_hole: Any = None,
    ) -> np.ndarray:
        """Fill the cells where ``hole`` is true from the codes around them only (their own codes are
        never looked at): iterative unmasking, most confident first.

        At each of ``steps`` rounds the model gives every cell still unknown its distribution given the
        known cells; the schedule is :func:`specblur.priors.base.unmask`, drawing at ``temperature``.
        For the bottom level, ``top`` is the top code map; the top cells over the hole are hidden too
        (repair removes their content) unless ``top_hole`` says which top cells to hide (``np.zeros``
        to use them all, e.g. after the top level has been filled itself).
        """
        t = self.temperature if temperature is None else temperature
        out = np.array(codes, dtype=np.int64, copy=True)
        self._check(out, top)
        unknown = np.asarray(hole, dtype=bool).copy()
        if unknown.shape != out.shape:
            raise ValueError(f"hole of shape {unknown.shape} does not match the codes {out.shape}")
        out[unknown] = 0  # never looked at (hidden anyway)
        live = np.flatnonzero(unknown.any(axis=0))
        if not len(live):
            return out
        columns = (int(live[0]), int(live[-1]) + 1)
        top_mask = None
        if top is not None and self.uses_top:
            top = np.asarray(top, dtype=np.int64)
            top_mask = (
                _top_cover(unknown, self.ratio, top.shape) if top_hole is None else np.asarray(top_hole, dtype=bool)
            )

        def cell_log_probs(unknown: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            log_p = _log_softmax(self.window_log_probs(out, unknown, columns, top, top_mask) / t)
            i, j = np.nonzero(unknown[:, columns[0] : columns[1]])
            return i, j + columns[0], log_p[i, j]

        def commit(ci: np.ndarray, cj: np.ndarray, drawn: np.ndarray) -> None:
            out[ci, cj] = drawn

        unmask(unknown, steps, rng, cell_log_probs, _draw, commit)
        return out

    # -- measures ------------------------------------------------------------------------------------
    def evaluate(
        self,
        maps: Any,
        top_maps: Any = None,
        lattice: int = 4,
        offsets: int | None = 4,
        seed: int = 0,
    ) -> dict[str, float]:
        """Bits per code and top-1 accuracy on ``maps`` (``(rows, cols)`` maps; for the bottom level
        ``top_maps`` aligned with them, all visible).

        ``bits``/``accuracy``: each scored cell predicted with the cells of a ``lattice`` x ``lattice``
        grid hidden (it and those ``lattice`` cells away in rows or columns; everything nearer is
        visible), close to the single-cell conditional that Naive Bayes' figures measure (slightly
        harder: a few distant cells are hidden too); ``offsets`` of the ``lattice ** 2`` grid positions
        are scored per window (drawn with ``seed``; ``None``: all, every cell). ``bits_half``/
        ``accuracy_half``: each cell of a random half hidden at once, predicted from the other half.
        ``*_varied``: the same on cells whose 8 neighbours are not one repeated code (as
        :meth:`specblur.priors.naive_bayes.LevelPrior.evaluate`). Temperature 1.
        """
        from specblur.priors.naive_bayes import neighbour_features

        rng = np.random.default_rng(seed)
        ln2 = np.log(2)
        sums: dict[str, float] = dict.fromkeys(
            ("n", "nll", "hit", "nv", "nll_v", "hit_v", "n_half", "nll_half", "hit_half"), 0.0
        )
        for index, codes in enumerate(maps):
            codes = np.asarray(codes, dtype=np.int64)
            top = None if top_maps is None or not self.uses_top else np.asarray(top_maps[index], dtype=np.int64)
            rows, cols = codes.shape
            feats = neighbour_features(codes[None], 1, self.num_codes)[0]
            varied = (feats != feats[..., :1]).any(axis=-1)
            grid = [(a, b) for a in range(lattice) for b in range(lattice)]
            if offsets is not None and offsets < len(grid):
                grid = [grid[g] for g in rng.choice(len(grid), size=offsets, replace=False)]
            rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
            for a, b in grid:
                hidden = (rr % lattice == a) & (cc % lattice == b)
                log_p = _log_softmax(self.window_log_probs(codes, hidden, (0, cols), top))
                i, j = np.nonzero(hidden)
                true = log_p[i, j, codes[i, j]]
                hit = log_p[i, j].argmax(axis=1) == codes[i, j]
                v = varied[i, j]
                sums["n"] += len(i)
                sums["nll"] -= true.sum()
                sums["hit"] += hit.sum()
                sums["nv"] += v.sum()
                sums["nll_v"] -= true[v].sum()
                sums["hit_v"] += hit[v].sum()
            hidden = rng.random(codes.shape) < 0.5
            log_p = _log_softmax(self.window_log_probs(codes, hidden, (0, cols), top))
            i, j = np.nonzero(hidden)
            sums["n_half"] += len(i)
            sums["nll_half"] -= log_p[i, j, codes[i, j]].sum()
            sums["hit_half"] += (log_p[i, j].argmax(axis=1) == codes[i, j]).sum()
        n, nv, nh = max(sums["n"], 1.0), max(sums["nv"], 1.0), max(sums["n_half"], 1.0)
        return {
            "bits": float(sums["nll"] / n / ln2),
            "accuracy": float(sums["hit"] / n),
            "bits_varied": float(sums["nll_v"] / nv / ln2),
            "accuracy_varied": float(sums["hit_v"] / nv),
            "varied_fraction": float(sums["nv"] / n),
            "bits_half": float(sums["nll_half"] / nh / ln2),
            "accuracy_half": float(sums["hit_half"] / nh),
            "cells_scored": int(sums["n"]),
            "lattice": lattice,
        }


class NeuralPrior(WindowModel):
    """A trained neural prior of one level, from the ONNX bytes :func:`specblur.learn.prior_transformer.export_prior_nn`
    writes (its metadata says the level, window, sizes and training config)."""

    def __init__(self, data: bytes, threads: int | None = None) -> None:
        from specblur.runtime.session import session

        self._session = session(data, threads)
        meta = self._session.get_modelmeta().custom_metadata_map
        if meta.get("specblur.format") != FORMAT:
            raise ValueError("not a specblur neural prior (no specblur metadata)")
        if meta.get("specblur.format_version") != str(FORMAT_VERSION):
            raise ValueError(
                f"neural prior format version {meta.get('specblur.format_version')}, this version reads "
                f"{FORMAT_VERSION}; export it again"
            )
        self.info: dict[str, Any] = json.loads(meta["specblur.prior_nn"])
        self.level = str(self.info["level"])
        self.num_codes = int(self.info["num_codes"])
        self.rows = int(self.info["rows"])
        self.window = int(self.info["window"])
        self.ratio = tuple(self.info.get("ratio", (1, 1)))  # type: ignore[assignment]
        self.temperature = 1.0
        self._inputs = [i.name for i in self._session.get_inputs()]

    @classmethod
    def from_file(cls, path: Any, threads: int | None = None) -> NeuralPrior:
        with open(path, "rb") as f:
            return cls(f.read(), threads)

    def predict(self, codes: np.ndarray, mask: np.ndarray, top: Any = None, top_mask: Any = None) -> np.ndarray:
        feed: dict[str, np.ndarray] = {
            "codes": np.ascontiguousarray(codes, dtype=np.int64),
            "mask": np.ascontiguousarray(mask, dtype=bool),
        }
        if "top" in self._inputs:
            if top is None:
                b = codes.shape[0]
                fr, fc = self.ratio
                top = np.zeros((b, self.rows // fr, self.window // fc), dtype=np.int64)
                top_mask = np.ones_like(top, dtype=bool)
            feed["top"] = np.ascontiguousarray(top, dtype=np.int64)
            feed["top_mask"] = np.ascontiguousarray(top_mask, dtype=bool)
        (log_p,) = self._session.run(None, feed)
        return log_p
