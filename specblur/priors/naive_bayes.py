"""Naive Bayes over neighbouring codes: the prior that redraws the codes of a region.

For each cell of a code map, the features are the codes of its neighbours within ``radius``
(Chebyshev distance; 8 neighbours for radius 1; cells outside the map read as the extra category
``K``) and its frequency row. Naive Bayes scores code ``c`` as
``log p(c) + sum_j log p(feature_j | c)`` with Laplace smoothing ``alpha`` — the model of
scikit-learn's ``CategoricalNB``, whose predictions the tests compare with ours. We fit by counting
co-occurrences with ``numpy.bincount`` (a single ``CategoricalNB.fit`` call would build an
N x K one-hot label matrix, gigabytes for a real corpus; ``partial_fit`` in chunks takes minutes
where counting takes a fraction of a second) and keep the counts as plain arrays, never a pickle.

Naive Bayes double-counts correlated neighbours and is over-confident, so probabilities are
``softmax(score / temperature)``; and a code met in a context never seen in training gets almost no
probability, which costs dozens of bits on unseen material, so the distribution is mixed with the
unigram (code frequencies) at a small weight ``mix`` (a back-off). Temperature and mix are chosen
together by cross-validation on the training maps (counts from the other folds); the temperature,
scaled by the user, also sets how far a blur strays from the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from specblur import cancel
from specblur.priors.base import unmask

TEMPERATURES = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)
MIXES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1)


def offsets(radius: int) -> list[tuple[int, int]]:
    """Neighbour offsets (row, column) within Chebyshev ``radius``, centre excluded."""
    return [(dr, dc) for dr in range(-radius, radius + 1) for dc in range(-radius, radius + 1) if (dr, dc) != (0, 0)]


DRAW_BLOCK = 16
"""Codes per block in :func:`_draw_rows`' two-step search."""


def _draw_rows(score: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """One draw per row of ``score`` (``(n, K)`` float32 log-weights, consumed: their exponentials are
    written over them) by inverting its cumulative distribution at ``uniforms`` (``(n,)`` in [0, 1)):
    the first code whose cumulative weight reaches ``u`` times the row's total. In two steps, as a
    running sum along a row is a sequential loop: first the block of :data:`DRAW_BLOCK` codes (from
    the blocks' sums), then the code within it: for 1,680 rows of 256 codes the search took 1.25 ms
    against 2.15 ms for one running sum over all, beside 0.6 ms for the exponentials. In float32: a
    draw differs from float64's only where ``u`` falls within float32's
    rounding of a boundary; on the whole-file benchmark's 60 s (62,040 codes over 3 sweeps) 69 codes
    came out otherwise, most of them later draws conditioned on an earlier changed one."""
    n, k = score.shape
    p = np.exp(score, out=score)
    if k % DRAW_BLOCK or n == 0:
        cdf = np.cumsum(p, axis=1)
        return (cdf < uniforms[:, None].astype(p.dtype) * cdf[:, -1:]).sum(axis=1)
    blocks = p.reshape(n, k // DRAW_BLOCK, DRAW_BLOCK)
    cum = np.cumsum(blocks.sum(axis=2), axis=1)
    target = uniforms.astype(p.dtype) * cum[:, -1]
    b = np.minimum((cum < target[:, None]).sum(axis=1), k // DRAW_BLOCK - 1)
    rows = np.arange(n)
    before = np.where(b > 0, cum[rows, b - 1], 0)
    inner = np.cumsum(blocks[rows, b], axis=1)
    inner += before[:, None]
    return b * DRAW_BLOCK + (inner < target[:, None]).sum(axis=1)


def neighbour_features(maps: np.ndarray, radius: int, num_codes: int) -> np.ndarray:
    """``(n, rows, cols)`` code maps → ``(n, rows, cols, len(offsets))`` neighbour codes (K outside)."""
    n, rows, cols = maps.shape
    padded = np.full((n, rows + 2 * radius, cols + 2 * radius), num_codes, dtype=np.int64)
    padded[:, radius : radius + rows, radius : radius + cols] = maps
    feats = [
        padded[:, radius + dr : radius + dr + rows, radius + dc : radius + dc + cols] for dr, dc in offsets(radius)
    ]
    return np.stack(feats, axis=-1)


@dataclass
class LevelPrior:
    """The fitted prior of one level: counts, smoothing and temperature."""

    num_codes: int
    rows: int
    radius: int
    alpha: float
    class_count: np.ndarray
    """``(K,)`` how often each code occurs."""
    neighbour_count: np.ndarray
    """``(features, K, K + 1)``: code ``c`` seen with neighbour ``v`` at offset ``j``."""
    row_count: np.ndarray
    """``(K, rows)``: code ``c`` seen in frequency row ``r``."""
    temperature: float = 1.0
    mix: float = 0.0
    """Weight of the unigram in the mixture (0: plain Naive Bayes)."""

    uses_top = False
    """Naive Bayes reads its own level's codes only (see :class:`specblur.priors.base.Prior`)."""

    # -- fitting ---------------------------------------------------------------------------------
    @classmethod
    def fit(cls, maps: MapsLike, num_codes: int, radius: int = 1, alpha: float = 1.0) -> LevelPrior:
        """Count co-occurrences in integer code maps (``(n, rows, cols)`` arrays, or a list of
        ``(rows, cols)`` maps of any widths)."""
        k = num_codes
        groups = _as_groups(maps)
        rows = groups[0].shape[1]
        f = len(offsets(radius))
        neighbour = np.zeros((f, k * (k + 1)), dtype=np.int64)
        row = np.zeros(k * rows, dtype=np.int64)
        classes = np.zeros(k, dtype=np.int64)
        for group in groups:
            if group.shape[1] != rows:
                raise ValueError(f"code maps have {group.shape[1]} and {rows} rows; one level at a time")
            feats, row_index, target = _cells(group, radius, k)
            for j in range(f):
                neighbour[j] += np.bincount(target * (k + 1) + feats[:, j], minlength=k * (k + 1))
            row += np.bincount(target * rows + row_index, minlength=k * rows)
            classes += np.bincount(target, minlength=k)
        return cls(
            num_codes=k,
            rows=rows,
            radius=radius,
            alpha=alpha,
            class_count=classes,
            neighbour_count=neighbour.reshape(f, k, k + 1),
            row_count=row.reshape(k, rows),
        )

    @classmethod
    def calibrate(
        cls,
        maps: MapsLike,
        num_codes: int,
        radius: int = 1,
        alpha: float = 1.0,
        folds: int = 5,
        max_rows: int = 400_000,
        seed: int = 0,
    ) -> tuple[float, float]:
        """(temperature, mix) with the least log-loss over ``folds`` folds of ``maps`` (each fold scored
        with counts from the others; at most ``max_rows`` cells scored in all, drawn with ``seed``)."""
        groups = [m for g in _as_groups(maps) for m in g]
        folds = max(2, min(folds, len(groups)))
        rng = np.random.default_rng(seed)
        nll = np.zeros((len(TEMPERATURES), len(MIXES)))
        for f in range(folds):
            held = groups[f::folds]
            rest = [m for i, m in enumerate(groups) if i % folds != f]
            if not held or not rest:
                continue
            prior = cls.fit(rest, num_codes, radius, alpha)
            unigram = prior.unigram_log_probs()
            for scores, target, _ in prior._scored(held, sample=max_rows // folds, rng=rng):
                uni = unigram[target][:, None]
                for i, t in enumerate(TEMPERATURES):
                    lp = _log_softmax(scores / t)[np.arange(len(target)), target][:, None]
                    mixed = _mix(lp, uni, np.array(MIXES)[None, :])
                    nll[i] -= mixed.sum(axis=0)
        i, j = np.unravel_index(int(np.argmin(nll)), nll.shape)
        return float(TEMPERATURES[i]), float(MIXES[j])

    def unigram_log_probs(self) -> np.ndarray:
        """``(K,)`` log frequencies of the codes, smoothed by ``alpha``."""
        cc = self.class_count.astype(np.float64)
        return np.log((cc + self.alpha) / (cc.sum() + self.alpha * self.num_codes))

    # -- inference -------------------------------------------------------------------------------
    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Smoothed log tables: prior ``(K,)``, neighbours ``(features, K + 1, K)``, rows ``(rows, K)``.

        Computed once and kept (a batch of edits reuses them); they depend only on the counts and
        ``alpha``, which are not changed after fitting.
        """
        key = (id(self.class_count), id(self.neighbour_count), id(self.row_count), self.alpha)
        cached = getattr(self, "_tables", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        self._tables = (key, self._compute_tables())
        return self._tables[1]

    def tables32(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`tables` in float32, for the draws of :meth:`resample` (kept as :meth:`tables` is)."""
        key = self.tables()
        cached = getattr(self, "_tables32", None)
        if cached is not None and cached[0] is key:
            return cached[1]
        self._tables32 = (key, tuple(np.ascontiguousarray(t, dtype=np.float32) for t in key))
        return self._tables32[1]

    def _compute_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = self.alpha
        cc = self.class_count.astype(np.float64)
        log_prior = np.log(np.maximum(cc, 1e-300) / cc.sum()) if cc.sum() else np.zeros_like(cc)
        neighbour = np.log(self.neighbour_count + a) - np.log(cc + a * (self.num_codes + 1))[None, :, None]
        row = np.log(self.row_count + a) - np.log(cc + a * self.rows)[:, None]
        return log_prior, np.ascontiguousarray(neighbour.transpose(0, 2, 1)), np.ascontiguousarray(row.T)

    def scores(self, neighbours: np.ndarray, rows: np.ndarray, tables: Any = None) -> np.ndarray:
        """Unnormalised NB log-scores ``(n, K)`` for ``(n, features)`` neighbour codes and ``(n,)`` rows."""
        log_prior, neighbour, row = tables if tables is not None else self.tables()
        out = log_prior[None, :] + row[rows]
        for j in range(neighbours.shape[1]):
            out = out + neighbour[j][neighbours[:, j]]
        return out

    def log_probs(
        self, neighbours: np.ndarray, rows: np.ndarray, temperature: float | None = None, mix: float | None = None
    ) -> np.ndarray:
        """Normalised log-probabilities ``(n, K)`` at the fitted (or given) temperature and mix."""
        t = self.temperature if temperature is None else temperature
        w = self.mix if mix is None else mix
        return _mix(_log_softmax(self.scores(neighbours, rows) / t), self.unigram_log_probs()[None, :], w)

    def resample(
        self,
        codes: np.ndarray,
        mask: np.ndarray,
        rng: np.random.Generator,
        sweeps: int = 3,
        temperature: float | None = None,
    ) -> np.ndarray:
        """Gibbs sweeps over the cells where ``mask`` is true of one ``(rows, cols)`` code map.

        Each cell is drawn from the prior given its current neighbours; cells outside the mask stay
        as they are and condition the draws. The cells fall into ``(radius + 1) ** 2`` interleaved
        sets (by row and column modulo ``radius + 1``) in which no two cells are neighbours, so the
        cells of one set are independent given the rest and are drawn at once, exactly as drawing
        them one at a time would; each sweep visits the sets in a random order. A ``mask`` of floats
        in [0, 1] is a brush: each cell is redrawn with that probability per sweep, so a feathered
        edge changes less than the core. Same ``rng`` state, same result.
        """
        t = self.temperature if temperature is None else temperature
        out = np.array(codes, dtype=np.int64, copy=True)
        rows, cols = out.shape
        weight = np.asarray(mask, dtype=np.float64)
        cells = np.argwhere(weight > 0)
        if not len(cells):
            return out
        log_prior, neighbour, row_table = self.tables32()
        unigram_cdf = np.cumsum(np.exp(self.unigram_log_probs()))
        r = self.radius
        padded = np.full((rows + 2 * r, cols + 2 * r), self.num_codes, dtype=np.int64)
        padded[r : r + rows, r : r + cols] = out
        offs = offsets(r)
        colour = (cells[:, 0] % (r + 1)) * (r + 1) + cells[:, 1] % (r + 1)
        sets = [cells[colour == c] for c in range((r + 1) ** 2)]
        for _ in range(sweeps):
            for c in rng.permutation(len(sets)):
                cancel.check()
                group = sets[c]
                if not len(group):
                    continue
                draws, uniforms, backoff = rng.random((3, len(group)))
                keep = draws < weight[group[:, 0], group[:, 1]]
                group, uniforms, backoff = group[keep], uniforms[keep], backoff[keep]
                if not len(group):
                    continue
                i, j = group[:, 0], group[:, 1]
                score = row_table[i]
                score += log_prior[None, :]
                for f, (dr, dc) in enumerate(offs):
                    score += neighbour[f][padded[r + i + dr, r + j + dc]]
                score -= score.max(axis=1, keepdims=True)
                score /= np.float32(t)
                drawn = _draw_rows(score, uniforms)
                from_unigram = backoff < self.mix  # the mixture's unigram part
                if from_unigram.any():
                    drawn[from_unigram] = np.searchsorted(
                        unigram_cdf, uniforms[from_unigram] * unigram_cdf[-1], side="right"
                    )
                padded[r + i, r + j] = np.minimum(drawn, self.num_codes - 1)
        return padded[r : r + rows, r : r + cols].copy()

    def fill(
        self,
        codes: np.ndarray,
        hole: np.ndarray,
        rng: np.random.Generator,
        steps: int = 8,
        temperature: float | None = None,
    ) -> np.ndarray:
        """Fill the cells where ``hole`` is true from the codes around them only (their own codes
        are never looked at): iterative unmasking, most confident cells first.

        At each of ``steps`` rounds every cell still in the hole gets its Naive Bayes distribution
        from its known neighbours alone (an unknown neighbour's factor is left out, which Naive
        Bayes allows); the schedule is :func:`specblur.priors.base.unmask`, drawing at ``temperature``.
        """
        t = self.temperature if temperature is None else temperature
        out = np.array(codes, dtype=np.int64, copy=True)
        rows, cols = out.shape
        unknown = np.asarray(hole, dtype=bool).copy()
        log_prior, neighbour, row_table = self.tables()
        log_unigram = self.unigram_log_probs()
        r = self.radius
        padded = np.full((rows + 2 * r, cols + 2 * r), self.num_codes, dtype=np.int64)
        padded[r : r + rows, r : r + cols] = out
        known = np.ones_like(padded, dtype=bool)
        known[r : r + rows, r : r + cols] = ~unknown
        offs = offsets(r)

        def cell_log_probs(unknown: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            i, j = np.nonzero(unknown)
            score = log_prior[None, :] + row_table[i]
            for f, (dr, dc) in enumerate(offs):
                seen = known[r + i + dr, r + j + dc]
                score = score + np.where(seen[:, None], neighbour[f][padded[r + i + dr, r + j + dc]], 0.0)
            return i, j, _mix(_log_softmax(score / t), log_unigram[None, :], self.mix)

        def commit(ci: np.ndarray, cj: np.ndarray, drawn: np.ndarray) -> None:
            padded[r + ci, r + cj] = np.minimum(drawn, self.num_codes - 1)
            known[r + ci, r + cj] = True

        unmask(unknown, steps, rng, cell_log_probs, _draw_unshifted, commit)
        return padded[r : r + rows, r : r + cols].copy()

    def _scored(self, maps: MapsLike, chunk: int = 20000, sample: int | None = None, rng: Any = None):
        """Yield (scores, target, neighbour features) for the cells of ``maps``, in chunks; with
        ``sample``, for about that many cells drawn at random."""
        groups = _as_groups(maps)
        total = sum(g.size for g in groups)
        tables = self.tables()
        for group in groups:
            feats, rows, target = _cells(group, self.radius, self.num_codes)
            if sample is not None and sample < total:
                keep = rng.random(len(target)) < sample / total
                feats, rows, target = feats[keep], rows[keep], target[keep]
            for lo in range(0, len(target), chunk):
                sl = slice(lo, lo + chunk)
                yield self.scores(feats[sl], rows[sl], tables), target[sl], feats[sl]

    def evaluate(self, maps: MapsLike) -> dict[str, float]:
        """Top-1 accuracy and bits per code on ``maps``, against the unigram baseline.

        Also the same figures on cells whose neighbourhood is not one repeated code (silence fills
        many neighbourhoods with one code and flatters every figure).
        """
        unigram = self.unigram_log_probs()
        sums = dict.fromkeys(("n", "hit", "nll", "uni_hit", "uni_nll", "nv", "hit_v", "nll_v", "uni_nll_v"), 0.0)
        for scores, target, feats in self._scored(maps):
            logp = _mix(_log_softmax(scores / self.temperature), unigram[None, :], self.mix)
            true = logp[np.arange(len(target)), target]
            hit = logp.argmax(1) == target
            varied = (feats != feats[:, :1]).any(axis=1)
            sums["n"] += len(target)
            sums["hit"] += hit.sum()
            sums["nll"] -= true.sum()
            sums["uni_hit"] += (target == unigram.argmax()).sum()
            sums["uni_nll"] -= unigram[target].sum()
            sums["nv"] += varied.sum()
            sums["hit_v"] += hit[varied].sum()
            sums["nll_v"] -= true[varied].sum()
            sums["uni_nll_v"] -= unigram[target[varied]].sum()
        n, nv, ln2 = sums["n"], max(sums["nv"], 1.0), np.log(2)
        return {
            "accuracy": sums["hit"] / n,
            "bits": sums["nll"] / n / ln2,
            "unigram_accuracy": sums["uni_hit"] / n,
            "unigram_bits": sums["uni_nll"] / n / ln2,
            "varied_fraction": sums["nv"] / n,
            "accuracy_varied": sums["hit_v"] / nv,
            "bits_varied": sums["nll_v"] / nv / ln2,
            "unigram_bits_varied": sums["uni_nll_v"] / nv / ln2,
            "temperature": self.temperature,
            "mix": self.mix,
        }

    # -- storage ---------------------------------------------------------------------------------
    def to_arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(scalars, count tables as numpy arrays): what a model file stores."""
        scalars = {
            "num_codes": self.num_codes,
            "rows": self.rows,
            "radius": self.radius,
            "alpha": self.alpha,
            "temperature": self.temperature,
            "mix": self.mix,
        }
        tables = {
            "class_count": self.class_count.astype(np.int64),
            "neighbour_count": _compact(self.neighbour_count),
            "row_count": self.row_count.astype(np.int64),
        }
        return scalars, tables

    @classmethod
    def from_arrays(cls, scalars: dict[str, Any], tables: dict[str, Any]) -> LevelPrior:
        """The inverse of :meth:`to_arrays` (tables may be numpy arrays or torch tensors)."""

        def array(x: Any) -> np.ndarray:
            return np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.int64)

        prior = cls(
            num_codes=int(scalars["num_codes"]),
            rows=int(scalars["rows"]),
            radius=int(scalars["radius"]),
            alpha=float(scalars["alpha"]),
            class_count=array(tables["class_count"]),
            neighbour_count=array(tables["neighbour_count"]),
            row_count=array(tables["row_count"]),
            temperature=float(scalars["temperature"]),
            mix=float(scalars.get("mix", 0.0)),  # absent in priors fitted before the back-off
        )
        k, f = prior.num_codes, len(offsets(prior.radius))
        if prior.neighbour_count.shape != (f, k, k + 1) or prior.row_count.shape != (k, prior.rows):
            raise ValueError("prior tables do not match their sizes")
        return prior


MapsLike = Any
"""An ``(n, rows, cols)`` integer array, or a sequence of ``(rows, cols)`` maps."""


def _as_groups(maps: MapsLike) -> list[np.ndarray]:
    """Group maps into ``(n, rows, cols)`` arrays of equal shape."""
    if isinstance(maps, np.ndarray) and maps.ndim == 3:
        return [maps.astype(np.int64, copy=False)]
    by_shape: dict[tuple[int, ...], list[np.ndarray]] = {}
    for m in maps:
        m = np.asarray(m, dtype=np.int64)
        by_shape.setdefault(m.shape, []).append(m)
    if not by_shape:
        raise ValueError("no code maps to fit")
    return [np.stack(group) for _, group in sorted(by_shape.items())]


def _cells(maps: np.ndarray, radius: int, num_codes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(neighbour features ``(N, F)``, row index ``(N,)``, code ``(N,)``) of every cell."""
    feats = neighbour_features(maps, radius, num_codes).reshape(-1, len(offsets(radius)))
    rows = np.broadcast_to(np.arange(maps.shape[1])[None, :, None], maps.shape).reshape(-1)
    return feats, rows, maps.reshape(-1)


def _compact(counts: np.ndarray) -> np.ndarray:
    """Smallest signed integer type that holds the counts (torch has no uint32)."""
    top = int(counts.max(initial=0))
    for dtype in (np.int16, np.int32):
        if top <= np.iinfo(dtype).max:
            return counts.astype(dtype)
    return counts.astype(np.int64)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def _draw_unshifted(log_p: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """One code per row of ``(n, K)`` normalised log-probabilities, by inverse CDF at ``uniforms``."""
    cdf = np.cumsum(np.exp(log_p), axis=1)
    return (cdf < uniforms[:, None] * cdf[:, -1:]).sum(axis=1)


def _mix(log_nb: np.ndarray, log_unigram: np.ndarray, weight: Any) -> np.ndarray:
    """``log((1 - w) * exp(log_nb) + w * exp(log_unigram))``, elementwise (broadcasting)."""
    w = np.asarray(weight, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.logaddexp(np.log1p(-w) + log_nb, np.log(w) + log_unigram)
