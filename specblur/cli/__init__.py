"""The ``specblur`` command line: a thin click layer over the library.

Importing this module imports click and nothing heavy: torch, torchaudio and scikit-learn load
inside command bodies, so ``specblur --help``, shell completion and argument errors stay fast.
Errors follow sox: one line on stderr, exit 1 for a command-line error, 2 for a file or processing
error; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from specblur.version import __version__

PRESET_NAMES = ("default", "tiny", "fullband")  # kept in step with specblur.config.PRESETS (a test checks)


def _err(message: str) -> None:
    click.echo(f"specblur: {message}", err=True)


class _State:
    debug = False
    quiet = False


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="specblur")
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
def cli(debug: bool) -> None:
    """Blur a time-frequency region of a sound through a VQ-VAE and a prior over its codes.

    Models are found by --model NAME|PATH: a path, a model trained into the data dir
    ($SPECBLUR_DATA_DIR, else the platform's user data dir), or a bundled model.
    """
    _State.debug = debug


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while the block runs; one that came is raised as KeyboardInterrupt after."""
    import signal

    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        caught.append(signum)

    try:
        previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: nothing to hold
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt


def _import_held(module: str) -> None:
    """Import ``module`` with Ctrl-C and SIGTERM held until it is done.

    A signal landing inside a native extension's import (torch's above all) can abort the process
    from C++ (SIGABRT) or leave CPython believing it went unhandled; held, it is raised as a plain
    KeyboardInterrupt right after.
    """
    if module in sys.modules:
        return
    import importlib

    with _signals_held():
        importlib.import_module(module)


def _import_runtime() -> None:
    """The edit path: numpy, soundfile and onnxruntime (never torch)."""
    _import_held("specblur.edit.on_file")


def _import_training() -> None:
    """The training side (torch, torchaudio, scikit-learn): the ``train`` extra."""
    try:
        _import_held("specblur.learn.train")
    except ImportError as exc:
        from specblur.errors import UsageError

        missing = getattr(exc, "name", None) or "torch"
        raise UsageError(f"training needs {missing}, which is not installed: pip install 'specblur[train]'") from None


def _load(spec: str | None) -> Any:
    """The model for an edit, loaded with Ctrl-C and SIGTERM held (onnxruntime builds its sessions
    in C++, where an interrupt would surface as a failed load rather than as an interrupt)."""
    _import_runtime()
    from specblur import load_model

    with _signals_held():
        return load_model(spec)


def _model_file(spec: str | None) -> Path:
    """The runtime file of ``--model NAME|PATH``, found (and a training checkpoint converted, once)
    but not loaded: for a batch whose workers each load it."""
    from specblur import _converter
    from specblur.runtime.registry import resolve_runtime

    with _signals_held():
        return resolve_runtime(spec, _converter())


def _check_output(out: str, force: bool, inputs: tuple[str, ...] = ()) -> None:
    from specblur.errors import UsageError

    if out == "-":
        return
    path = Path(out)
    for name in inputs:
        if name != "-" and Path(name).exists() and path.exists() and path.resolve() == Path(name).resolve():
            raise UsageError(f"{out}: output is the input; give another output file")
    if path.is_dir():
        raise UsageError(f"{out}: is a directory; give an output file name")
    if path.exists() and not force:
        raise UsageError(f"{out}: exists; use --force to replace it")
    if not path.parent.is_dir():
        raise UsageError(f"{out}: folder {path.parent} does not exist; create it first")


def _check_plot(plot: Path, force: bool, job: tuple[str, str]) -> None:
    """``--plot PNG``: a file that can be written (as OUT is checked), not OUT nor IN, named for a
    format it is drawn in."""
    from specblur.errors import UsageError
    from specblur.plot import SUFFIXES

    name = str(plot)
    if name == "-":
        raise UsageError("--plot -: the plot cannot go to stdout; give a file name, e.g. --plot edit.png")
    src, dst = job
    if dst != "-" and Path(dst).resolve() == plot.resolve():
        raise UsageError(f"--plot {name}: is OUT too; give the plot another name")
    try:
        _check_output(name, force, (src,))
    except UsageError as exc:
        raise UsageError(f"--plot {exc}") from None
    if plot.suffix.lower() not in SUFFIXES:
        raise UsageError(f"--plot {name}: name it {' or '.join(SUFFIXES)} (the format it is drawn in)")


def _write_bytes(out: str, data: bytes) -> None:
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    from specblur.files import atomic_write_bytes

    atomic_write_bytes(Path(out), data)


def _meter(enabled: bool, command: str, model_name: str) -> Any:
    """An energy meter for ``--energy`` (codecarbon is imported only then), else ``None``.

    Its rows also carry the whole call's cost: the start-up before each edit, priced as codecarbon
    priced the edit (see :class:`specblur.energy.meter.Meter`).
    """
    if not enabled:
        return None
    from specblur.energy.meter import Meter

    return Meter(command, model_name, whole_call=True)


def _measured(meter: Any, stage: str, audio_s: float) -> Any:
    from contextlib import nullcontext

    return nullcontext() if meter is None else meter.measure(stage, audio_s=audio_s)


class _Bar:
    """A progress bar on stderr (rich) for work that takes a while: shown when stderr is a terminal,
    not with ``-q``, and only once there are at least ``least`` pieces of work; gone when done."""

    def __init__(self, what: str, quiet: bool, least: int = 2) -> None:
        self.what, self.least = what, least
        self.enabled = not quiet and sys.stderr.isatty()
        self.bar: Any = None
        self.task: Any = None

    def update(self, done: int, total: int, current: str | None = None) -> None:
        if not self.enabled or total < self.least:
            return
        if self.bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[current]}"),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=total, current="")
        self.bar.update(self.task, completed=done, total=total, current=current or "")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _model_option(default: str = "default", prefix: str = "") -> Any:
    """``-m/--model NAME|PATH``: declared here once for every command that loads a model."""
    what = "model name or checkpoint path" if prefix else "Model name or checkpoint path"
    return click.option("-m", "--model", help=f"{prefix}{what}.  [default: {default}]")


_ENERGY_HELP = "Measure this run's energy with codecarbon and add it to the ledger ('specblur energy')."

_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}


@cli.command()
@click.argument("data", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Name of the model to save in the data dir.")
@click.option(
    "--preset",
    type=click.Choice(PRESET_NAMES),
    default="default",
    show_default=True,
    help=(
        "Named configuration: 'default' is 16 kHz, 0-8 kHz (about an hour on 2 cores); 'fullband' is "
        "44.1 kHz, 0-22 kHz, what the bundled default model is (about 2.7 h); 'tiny' trains in seconds, "
        "for tests."
    ),
)
@click.option("--steps", type=click.IntRange(min=1), help="Optimiser steps (default: the preset's).")
@click.option(
    "--epochs",
    type=click.FloatRange(min=0, min_open=True),
    help="Train for this many passes over the training files instead of --steps.",
)
@click.option("--batch-size", type=click.IntRange(min=1), help="Crops per step (default: the preset's).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Adam learning rate (default: the preset's).")
@click.option(
    "--cooldown",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Fraction of the steps, at the end, over which the learning rate falls linearly to zero.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="auto: CUDA where there is one (under torchrun each process takes the GPU of its LOCAL_RANK).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same data, same machine: same model.")
@click.option(
    "--resume", is_flag=True, help="Continue the saved run of this --name (on any process count dividing the batch)."
)
@click.option(
    "--loading",
    type=click.Choice(["auto", "memory", "stream"]),
    default="auto",
    show_default=True,
    help=(
        "memory: decode the corpus once and crop from memory; stream: DataLoader workers decode each crop "
        "from its file, so memory stays flat however large the corpus; auto: memory under 1 GiB decoded."
    ),
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    help="stream: DataLoader worker processes per training process.  [default: from the cores, 1 to 4]",
)
@click.option("--strict", is_flag=True, help="Stop at the first unreadable file instead of skipping it with a warning.")
@click.option(
    "--prior-steps", type=click.IntRange(min=1), help="Steps of each level's neural prior (default: the preset's)."
)
@click.option(
    "--family", "families", multiple=True, help="NSynth layout: keep only this instrument family (repeatable)."
)
@click.option(
    "--source", "sources", multiple=True, help="NSynth layout: keep only this source, e.g. acoustic (repeatable)."
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Also write the model here (default: data dir only)."
)
@click.option(
    "--country",
    metavar="ISO3",
    help="Grid whose carbon intensity prices the energy (ISO 3166 alpha-3).  [default: $SPECBLUR_COUNTRY, else USA]",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or log lines.")
def train(
    data: tuple[Path, ...],
    name: str,
    preset: str,
    steps: int | None,
    epochs: float | None,
    batch_size: int | None,
    lr: float | None,
    cooldown: float,
    device: str,
    seed: int,
    resume: bool,
    families: tuple[str, ...],
    sources: tuple[str, ...],
    output: Path | None,
    country: str | None,
    quiet: bool,
    loading: str = "auto",
    workers: int | None = None,
    strict: bool = False,
    prior_steps: int | None = None,
) -> None:
    """Train a VQ-VAE-2 on audio folders (wav, flac, ogg; recursive) or NSynth-style folders.

    Ctrl-C saves a resumable state; run the same command with --resume to go on. The energy of
    each stage (training, fitting the prior) is measured with codecarbon and added to the energy
    ledger ('specblur energy --report').

    \b
    One machine:      specblur train DATA --name NAME
    Several processes or GPUs (PyTorch's torchrun; gloo on CPU, NCCL on GPUs):
                      torchrun --standalone --nproc_per_node 4 -m specblur train DATA --name NAME
    Several machines: torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d
                        --rdzv-endpoint HOST:29400 -m specblur train DATA --name NAME
                      (DATA and the data dir on storage every machine sees)

    --batch-size is the batch of a step over all processes; each takes its share, so the crops,
    their order and the learning rate follow the step whatever the process count. Only rank 0
    writes the run, the model and the ledger (one row per stage, every process's energy summed).
    Measured on a 2-core CPU (default preset, one thread per process): 2 processes 2.05 steps/s
    against 1.41 for one, 73% scaling efficiency (README, Training). Corpora over 1 GiB decoded
    are streamed from the files (--loading). On CUDA: bfloat16 autocast (untested here: no GPU).
    """
    from specblur.config import PRESETS
    from specblur.errors import UsageError
    from specblur.runtime import registry

    registry.check_name(name)
    from specblur.energy.ledger import country as check_country

    check_country(country)
    if steps is not None and epochs is not None:
        raise UsageError("give --steps or --epochs, not both")
    config = PRESETS[preset]
    changes = {k: v for k, v in {"batch_size": batch_size, "lr": lr}.items() if v is not None}
    if changes:
        config = config.replace("train", **changes)
    from rich.console import Console

    quiet = quiet or os.environ.get("RANK", "0") != "0"  # under torchrun, rank 0 speaks for the job
    console = Console(stderr=True)
    log = (lambda m: None) if quiet else (lambda m: console.print(m, highlight=False, markup=False, soft_wrap=True))
    _import_training()
    from specblur.learn.train import TrainOptions
    from specblur.learn.train import train as run_training

    opts = TrainOptions(
        roots=list(data),
        name=name,
        config=config,
        preset=preset,
        steps=steps,
        epochs=epochs,
        device=device,
        seed=seed,
        resume=resume,
        families=families,
        sources=sources,
        country=country,
        cooldown=cooldown,
        loading=loading,
        workers=workers,
        strict=strict,
        prior_steps=prior_steps,
        log=log,
    )
    show_bar = not quiet and console.is_terminal
    if show_bar:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("train"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            console=console,
        ) as bar:
            task = bar.add_task("train", total=None, stats="")

            def progress(step: int, total: int, s: dict[str, Any]) -> None:
                text = (
                    f"loss {s['loss']:.3f}  rec {s['rec_db']:.1f} dB  ppl {s['ppl'][0]:.0f}/{s['ppl'][1]:.0f}"
                    f"  dead {s['dead'][0]:.0%}/{s['dead'][1]:.0%}"
                )
                bar.update(task, completed=step, total=total, stats=text)

            path = run_training(opts, progress)
    else:
        path = run_training(opts)
    if os.environ.get("RANK", "0") != "0":
        return
    if output is not None:
        from specblur.files import atomic_write_bytes

        atomic_write_bytes(output, path.read_bytes())
    log(f"saved {path}")


def _parse_amount(spec: str) -> float:
    """``--amount``: a fraction from 0 to 1, or a percentage (``50%``)."""
    from specblur.errors import UsageError

    text = spec.strip()
    scale = 100.0 if text.endswith("%") else 1.0
    try:
        value = float(text.removesuffix("%")) / scale
    except ValueError:
        value = float("nan")
    if not (0 <= value <= 1):
        raise UsageError(f"--amount {spec!r}: give a number from 0 to 1 (or a percentage), e.g. 0.5 or 50%")
    return value


def _parse_region(time: str | None, freq: str | None) -> tuple[tuple, tuple]:
    from specblur.edit.region import parse_freq, parse_time

    return (parse_time(time) if time else (None, None)), (parse_freq(freq) if freq else (None, None))


def _range(limit: Any) -> click.ParamType:
    """A click range from one of :mod:`specblur.edit.options`' limits (the library checks the same)."""
    high = None if limit.high == float("inf") else limit.high
    if limit.whole:
        return click.IntRange(int(limit.low), None if high is None else int(high))
    return click.FloatRange(limit.low, high)


REPAIR_CODES_ONLY = " Repair: only with --method texture or model (the other methods draw no codes)."


def _edit_options(mode: str) -> Any:
    """The options ``blur`` and ``repair`` share, and each one's own."""
    from specblur import priors
    from specblur.edit import limits

    shared = [
        click.argument("files", nargs=-1, required=True, metavar="IN... OUT"),
        click.option(
            "-t",
            "--time",
            "time_spec",
            metavar="START-END",
            help="Seconds or m:ss (1.0-2.0, 1:02-1:04.5, -2.5, 1.0-)."
            + (
                "  [default: the whole file]"
                if mode == "blur"
                else "  [required, unless --labels; with --method declick the default is the whole file]"
            ),
        ),
        click.option(
            "-F",
            "--freq",
            "freq_spec",
            metavar="LOW-HIGH",
            help="Hz, k for kHz (200-2000, 200-2k, 1k-).  [default: the whole band the model covers]",
        ),
        click.option(
            "--labels",
            "labels_file",
            type=click.Path(path_type=Path),
            metavar="FILE",
            help="Edit every region of an Audacity label file (START<TAB>END<TAB>TEXT lines; a spectral selection "
            "line '\\<TAB>LOW<TAB>HIGH' gives its band, else the whole band), one after another, in one call; "
            "instead of --time/--freq.",
        ),
        click.option(
            "-T",
            "--temperature",
            type=_range(limits.TEMPERATURE),
            default=1.0,
            show_default=True,
            help="Temperature: times the prior's calibrated temperature; higher draws stray further from the original."
            + (REPAIR_CODES_ONLY if mode == "repair" else ""),
        ),
        click.option(
            "-a",
            "--amount",
            "amount_spec",
            metavar="0..1",
            default="1",
            show_default=True,
            help="How much of the change is applied (0: none, the output is the input; 0.5: half of it in dB; "
            "50% works too).",
        ),
        click.option(
            "--prior",
            type=click.Choice(priors.NAMES),
            help="The model of code statistics that redraws the codes."
            + (REPAIR_CODES_ONLY if mode == "repair" else "")
            + "  [default: the model's, see its card]",
        ),
        click.option(
            "--unlinked",
            is_flag=True,
            help="Edit each channel on its own (by default the channels are linked: one draw and one change "
            "for all of them, so the stereo image holds).",
        ),
        click.option(
            "-s", "--seed", type=_range(limits.SEED), default=0, show_default=True, help="Same seed, same bytes."
        ),
        click.option(
            "--feather",
            type=_range(limits.FEATHER),
            default=1.0,
            show_default=True,
            help="Width of the brush's soft edge, in code cells (0: a hard rectangle).",
        ),
        click.option(
            "--phase-iters",
            type=_range(limits.PHASE_ITERS),
            default=0,
            show_default=True,
            help="Griffin-Lim iterations on the changed frames (0 keeps the input's phase; 8 lands about 0.5 dB "
            "closer to the decoder's request, at about 3x the time).",
        ),
        _model_option(),
        click.option(
            "-o",
            "--output-dir",
            type=click.Path(path_type=Path),
            help="Batch mode: every argument is an input; each output is DIR/<input name>.",
        ),
        click.option(
            "-j",
            "--jobs",
            type=click.IntRange(1, 256),
            help="Batch mode: files edited at once, each worker loading the model once; one file: the tiles "
            "of a region over 15 s edited at once, on threads (memory grows with each; 1 for the least). The "
            "same bytes whatever N.  [default: the number of cores; for one file's tiles at most 2]",
        ),
        click.option("-f", "--force", is_flag=True, help="Replace existing outputs."),
        click.option(
            "--plot",
            type=click.Path(path_type=Path),
            metavar="PNG",
            help="Also draw before/after spectrograms and code maps (first channel); .png, .pdf or .svg.",
        ),
        click.option("--energy", is_flag=True, help=_ENERGY_HELP),
        click.option("-v", "--verbose", is_flag=True, help="Print the region actually edited."),
        click.option("-q", "--quiet", is_flag=True, help="No warnings and no progress bar."),
    ]
    if mode == "blur":
        own = [
            click.option(
                "--wash",
                type=_range(limits.WASH),
                default=0.0,
                show_default=True,
                help="Share of the redrawn codes' coarse change let through: 0 keeps the region's level and "
                "envelope (pauses stay pauses; only the detail below the blur's scale changes, as an image "
                "blur keeps a picture's shape), 1 lets the region's level and envelope follow the codes.",
            ),
            click.option(
                "--sweeps",
                "rounds",
                type=_range(limits.SWEEPS),
                default=3,
                show_default=True,
                help="Gibbs sweeps over the region.",
            ),
        ]
    else:
        own = [
            click.option(
                "--method",
                type=click.Choice(limits.REPAIR_METHODS),
                default="auto",
                show_default=True,
                help="How the region is filled: 'envelope' synthesises it from the context's spectrum on both "
                "sides (magnitude and phase: a dropout comes back at the level around it), 'interpolate' is a "
                "spectral editor's replace (each bin's level drawn straight across), 'ar' predicts the samples "
                "from both sides (Janssen's method; short gaps), 'hybrid' gives each cell of the region the "
                "louder of the 'ar' and 'interpolate' fills and synthesises it as 'envelope' does, 'declick' finds "
                "the clicks in the region (the whole file without --time) and mends only their samples (as "
                "'ar' does, from the samples around them), 'match' "
                "copies in the stretch up to 8 s "
                "away whose surroundings best resemble the region's (a loop, a repeated bar), 'texture' puts "
                "the model's fill on the context's envelope, 'model' is the model's fill alone (levels follow "
                f"the decoder), 'auto' takes 'declick' where it finds clicks in a region of up to "
                f"{limits.DECLICK_AUTO_SECONDS * 1000:g} ms (whole band), else "
                f"'ar' up to {limits.AR_AUTO_SECONDS * 1000:g} ms and beyond "
                "that 'match' where one stretch fits far "
                "better than the rest, else 'hybrid' up to "
                f"{limits.HYBRID_AUTO_SECONDS * 1000:g} ms and 'envelope' beyond (measured; docs/REPAIR.md). "
                "-v says which it used (declick: how many clicks it mended).",
            ),
            click.option(
                "--steps",
                "rounds",
                type=_range(limits.STEPS),
                default=8,
                show_default=True,
                help="Rounds of unmasking that fill the region, most confident cells first.",
            ),
        ]
    own.append(
        click.option(
            "--scale",
            type=click.Choice(["micro", "macro", "both"]),
            default="micro" if mode == "blur" else "both",
            show_default=True,
            help="Redraw fine (bottom) codes, coarse (top) codes, or both (coarse first).",
        )
    )

    def apply(command: Any) -> Any:
        for option in reversed(shared + own):
            command = option(command)
        return command

    return apply


def _describe_part(src: str, part: Any) -> None:
    """``-v``: what one region's edit did."""
    from specblur.edit.effects.repair import SAMPLE_METHODS

    if part.method in SAMPLE_METHODS:
        (t0, t1), band = part.hole, part.band
        where = "" if band is None else f", {band[0]:.0f}-{band[1]:.0f} Hz"
        found = ""
        if part.method == "declick":
            n = part.clicks or 0
            found = f": {n:,} click{'s' if n != 1 else ''} mended" if n else " (no clicks found: nothing changed)"
        click.echo(f"{src}: repaired {t0:.3f}-{t1:.3f} s{where} with method {part.method}{found}", err=True)
        return
    how = f" (method {part.method})" if part.method else ""
    for region in part.regions:
        click.echo(f"{src}: edited {region.describe()}; {part.changed_codes:.0%} of codes redrawn{how}", err=True)
    if part.extent is not None:
        click.echo(f"{src}: may change {part.extent.describe()}", err=True)


@cli.command()
@_edit_options("blur")
def blur(**options: Any) -> None:
    """Blur a time-frequency region: redraw its codes from the prior, resynthesise only the region.

    Everything outside the region's time span (widened by the feather and the STFT window) is
    bit-identical to IN; the output keeps IN's rate, channels, length, format and subtype, so OUT's
    extension must name IN's format (a WAV IN and a .flac OUT are refused: convert with sox after).
    '-' reads stdin / writes stdout.
    """
    _edit("blur", **options)


@cli.command()
@_edit_options("repair")
def repair(**options: Any) -> None:
    """Repair a time-frequency region: throw its codes away, fill them from the context around it,
    and bring the region to the decoder's image of the fill (a cough, a click, a dropout gone).

    Everything outside the region's time span is bit-identical to IN, as with blur; the output keeps
    IN's rate, channels, length, format and subtype (OUT's extension must name it). '-' reads stdin /
    writes stdout.
    """
    _edit("repair", **options)


def _edit(
    mode: str,
    files: tuple[str, ...],
    time_spec: str | None,
    freq_spec: str | None,
    labels_file: Path | None,
    temperature: float,
    amount_spec: str,
    prior: str | None,
    unlinked: bool,
    rounds: int,
    seed: int,
    feather: float,
    phase_iters: int,
    scale: str,
    model: str | None,
    output_dir: Path | None,
    force: bool,
    plot: Path | None,
    energy: bool,
    verbose: bool,
    quiet: bool,
    method: str | None = None,
    wash: float = 0.0,
    jobs: int | None = None,
) -> None:
    from specblur.errors import SpecblurError, UsageError

    regions = None
    if labels_file is not None:
        if time_spec is not None or freq_spec is not None:
            raise UsageError("give --labels or --time/--freq, not both (each label carries its own region)")
        if plot is not None:
            raise UsageError("--plot draws one region; use it without --labels")
        from specblur import labels

        regions = [
            {"time": label.time, "freq": label.freq, "name": f"{labels_file}:{label.line}"}
            for label in labels.read(labels_file)
        ]
    elif mode == "repair" and time_spec is None and method != "declick":  # (declick: the whole file)
        raise UsageError(
            "repair needs --time: the span to fill from around it, e.g. --time 1.0-1.2"
            " (--method declick alone works on the whole file)"
        )
    time, freq = _parse_region(time_spec, freq_spec)
    from specblur.edit.options import EditOptions

    settings = EditOptions(
        effect=mode,
        temperature=temperature,
        amount=_parse_amount(amount_spec),
        rounds=rounds,
        seed=seed,
        feather=feather,
        scale=scale,
        phase_iters=phase_iters,
        linked=not unlinked,
        prior=prior,
        method=method,
        wash=wash,
    )
    if output_dir is None:
        if len(files) != 2:
            raise UsageError("give IN and OUT (or several inputs with --output-dir DIR)")
        pairs = [(files[0], files[1])]
    else:
        if not output_dir.is_dir():
            raise UsageError(f"--output-dir {output_dir}: no such folder; create it first")
        if "-" in files:
            raise UsageError("'-' (stdin) cannot be used with --output-dir")
        pairs = [(f, str(output_dir / Path(f).name)) for f in files]
        if len({o for _, o in pairs}) != len(pairs):
            raise UsageError("two inputs have the same file name; their outputs would collide in --output-dir")
    if plot is not None and len(pairs) > 1:
        raise UsageError("--plot works on one file at a time")
    for src, dst in pairs:
        _check_output(dst, force, (src,))
    if plot is not None:
        _check_plot(plot, force, pairs[0])
    _import_runtime()
    from specblur.edit import batch, on_file

    workers = 1 if len(pairs) == 1 or energy else min(jobs or batch.default_jobs(), len(pairs))
    tiles_at_once = None
    if len(pairs) == 1 and jobs is not None:
        from specblur.edit.effects import EFFECTS

        if not EFFECTS[mode].tiles:
            raise UsageError(f"--jobs with one file sets how many of a blur's tiles run at once; {mode} has none")
        tiles_at_once = jobs  # one file: its long regions' tiles at once
    if workers > 1:
        # only the workers load the model (each once); here it is only found (a checkpoint converted once)
        loaded, model_file = None, _model_file(model)
    else:
        loaded = _load(model)
    meter = _meter(energy, mode, loaded.name) if loaded is not None else None
    chosen = regions if regions is not None else [{"time": time, "freq": freq}]
    failed: list[int] = []

    def report(src: str, edit: Any) -> None:
        if isinstance(edit, SpecblurError):
            if len(pairs) == 1:
                raise edit
            _err(str(edit))  # one file's problem: say so, go on with the others
            failed.append(edit.exit_code)
            return
        result = edit.result
        if verbose:
            for part in edit.parts or [result]:
                _describe_part(src, part)
        if not quiet:
            for warning in edit.warnings:
                _err(f"warning: {warning}")
        if plot is not None and result.views:
            from specblur.edit.region import band_centres
            from specblur.plot import save

            spec_cfg, cell = loaded.model.config.spectrogram, loaded.model.cell
            first = (edit.parts or [result])[0]  # (the view drawn is the first region's)
            rows_hz = band_centres(spec_cfg)
            save(plot, result.views[0], first.regions, spec_cfg, cell, first.hole, first.band, rows_hz)

    if loaded is not None:
        # here, a file at a time: one file (its long regions show their tiles, a long repair its 2 s
        # blocks), --energy (each file's row measures this process), or one job
        bar = _Bar(("tiles" if mode == "blur" else "blocks") if len(pairs) == 1 else "files", quiet)
        try:
            for n, (src, dst) in enumerate(pairs):
                each = bar.update if len(pairs) == 1 else None
                try:
                    with _measured(meter, mode, 0.0) as measured:
                        edit = on_file.blur_file_regions(
                            loaded,
                            src,
                            dst,
                            chosen,
                            settings,
                            keep_views=plot is not None,
                            progress=each,
                            workers=tiles_at_once,
                        )
                        if measured is not None:
                            measured.audio_s = edit.seconds
                except SpecblurError as exc:
                    edit = exc
                if len(pairs) > 1:
                    bar.update(n + 1, len(pairs), Path(src).name)
                report(src, edit)
        finally:
            bar.close()
    else:
        from specblur import load_model

        bar = _Bar("files", quiet)
        try:
            done = lambda n, total, src: bar.update(n, total, Path(src).name)  # noqa: E731
            for i, edit in batch.edit_files(str(model_file), pairs, chosen, settings, workers, load_model, done):
                report(pairs[i][0], edit)
        finally:
            bar.close()
    if failed:
        summary = SpecblurError(f"{len(failed)} of {len(pairs)} files failed (see above)")
        summary.exit_code = max(failed)
        raise summary


@cli.command()
@click.argument("input", metavar="IN")
@click.option(
    "-o",
    "--out",
    metavar="OUT",
    help="Where Export writes (IN's format, so named for it; never IN).  [default: IN's name with .edited "
    "before the suffix]",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1 (0: any free one).  [default: the first free one from 8765]",
)
@click.option("--no-browser", is_flag=True, help="Only print the URL; do not open a browser.")
@_model_option()
@click.option("-f", "--force", is_flag=True, help="Let Export replace an existing OUT.")
def edit(input: str, out: str | None, port: int | None, no_browser: bool, model: str | None, force: bool) -> None:
    """Edit IN in the browser: see its spectrogram, drag a region, apply blur or repair (by any of
    repair's --method choices), listen before/after, undo, export OUT.

    Starts a local web server on 127.0.0.1 and prints its URL (with a random token that the page's
    requests must carry), then opens the browser. The page shows the equivalent 'specblur blur' /
    'repair' command line and saves the regions as an Audacity label file (for --labels). IN is
    never written; Export writes OUT as 'blur' does: IN's format, bit-identical outside the edited
    spans, atomically. Ctrl-C stops the server.
    """
    _import_runtime()
    loaded = _load(model)
    with _signals_held():
        from specblur.editor import server

    session = server.Session(input, out, loaded, force=force, model_arg=model)
    short = session.source.shortfall()
    if short is not None:
        click.echo(f"specblur: warning: {input}: {short}; editing what is there", err=True)
    http = server.open_server(port, session)
    import threading

    threading.Thread(target=session.warm_up, daemon=True).start()
    server.serve(
        http,
        lambda url: click.echo(f"specblur edit: {input} -> {session.out}\n  {url}\n(Ctrl-C to stop)"),
        open_browser=not no_browser,
    )


@cli.command("fit-prior")
@click.argument("data", nargs=-1, required=True, type=click.Path(path_type=Path))
@_model_option()
@click.option(
    "--radius",
    type=click.IntRange(1, 4),
    default=1,
    show_default=True,
    help="Neighbourhood radius in code cells (1: the 8 neighbours).",
)
@click.option(
    "--alpha",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Laplace smoothing of the counts.",
)
@click.option(
    "--prior",
    "which",
    type=click.Choice(["naive-bayes", "transformer"]),
    default="naive-bayes",
    show_default=True,
    help="Which prior to refit (the other is kept as it is).",
)
@click.option("--steps", type=click.IntRange(min=1), help="transformer: optimiser steps (default: the preset's).")
@click.option("--seed", type=int, default=0, show_default=True, help="transformer: same seed, same prior.")
@click.option("--resume", is_flag=True, help="transformer: continue the saved run of this model's prior.")
@click.option("--family", "families", multiple=True, help="NSynth layout: keep only this instrument family.")
@click.option("--source", "sources", multiple=True, help="NSynth layout: keep only this source.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write the model here.  [default: the data dir, under the model's name]",
)
@click.option(
    "--country",
    metavar="ISO3",
    help="Grid whose carbon intensity prices the energy (ISO 3166 alpha-3).  [default: $SPECBLUR_COUNTRY, else USA]",
)
@click.option("-q", "--quiet", is_flag=True, help="No log lines.")
def fit_prior(
    data: tuple[Path, ...],
    model: str | None,
    radius: int,
    alpha: float,
    which: str,
    steps: int | None,
    seed: int,
    resume: bool,
    families: tuple[str, ...],
    sources: tuple[str, ...],
    output: Path | None,
    country: str | None,
    quiet: bool,
) -> None:
    """Refit a prior over codes of an existing model on audio DATA: the Naive Bayes prior or the
    neural (transformer) one.

    Training fits both already; use this to fit one on other material or with other settings. The
    model's default prior becomes whichever has fewer held-out bits per bottom code. The energy is
    measured and added to the ledger and to the model's record. Under torchrun (as for train) each
    process encodes its share of DATA; the Naive Bayes counts are summed over the processes.
    """
    _import_training()
    from specblur.learn.fit_prior import refit

    quiet = quiet or os.environ.get("RANK", "0") != "0"  # under torchrun, rank 0 speaks for the job
    log = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    refit(
        list(data),
        model,
        which,
        radius=radius,
        alpha=alpha,
        steps=steps,
        seed=seed,
        resume=resume,
        families=families,
        sources=sources,
        output=output,
        country=country,
        log=log,
    )


@cli.command()
@click.argument("input", metavar="IN")
@click.argument("codes", metavar="CODES")
@_model_option()
@click.option("-f", "--force", is_flag=True, help="Replace CODES if it exists.")
@click.option("--energy", is_flag=True, help=_ENERGY_HELP)
def encode(input: str, codes: str, model: str | None, force: bool, energy: bool) -> None:
    """Turn audio IN into a code file CODES (.npz); '-' for stdin/stdout.

    Each channel is encoded at the model's sample rate, a block of about 24 s at a time (memory does
    not grow with the file; the codes are the whole file's).
    """
    _check_output(codes, force, (input,))
    _import_runtime()
    from specblur import audio
    from specblur.edit import codec

    head = audio.Source(input).info() if input != "-" else None
    loaded = _load(model)
    seconds = head.frames / head.sample_rate if head is not None else 0.0
    bar = _Bar("blocks", quiet=False)
    try:
        with _measured(_meter(energy, "encode", loaded.name), "encode", seconds) as measured:
            code_file = codec.encode_file(loaded, input, progress=bar.update)
            if measured is not None:
                measured.audio_s = code_file.meta["source_length"] / code_file.meta["source_sample_rate"]
    finally:
        bar.close()
    _write_bytes(codes, code_file.to_bytes())


@cli.command()
@click.argument("codes", metavar="CODES")
@click.argument("output", metavar="OUT")
@_model_option("the one named in CODES")
@click.option("--original-rate", is_flag=True, help="Resample to the encoded file's rate instead of the model's.")
@click.option("-f", "--force", is_flag=True, help="Replace OUT if it exists.")
@click.option("--energy", is_flag=True, help=_ENERGY_HELP)
def decode(codes: str, output: str, model: str | None, original_rate: bool, force: bool, energy: bool) -> None:
    """Resynthesise audio OUT from a code file CODES (phase by Griffin-Lim); '-' for stdin/stdout.

    OUT's format follows its suffix (.wav, .flac, .ogg; WAV for stdout or a name with no audio
    suffix; another audio suffix, e.g. .mp3, is refused). The sound is made and written a block of
    about 3 s at a time (memory does not grow with its length; the samples are the whole sound's).
    """
    _check_output(output, force, (codes,))
    _import_runtime()
    from specblur import audio
    from specblur.errors import UsageError

    if output != "-" and Path(output).suffix.lower() not in _FORMATS and audio.names_audio(output):
        raise UsageError(
            f"{output}: decode writes WAV, FLAC or OGG; name it {Path(output).with_suffix('.wav')} (or .flac, .ogg), "
            f"or convert that afterwards (e.g. sox {Path(output).with_suffix('.wav')} {output})"
        )
    from specblur.codes import read
    from specblur.edit import codec

    code_file = read(codes, sys.stdin.buffer.read() if codes == "-" else None)
    loaded = _load(model or str(code_file.meta.get("model_name") or "default"))
    codec.check_codes(loaded, code_file, codes)
    seconds = int(code_file.meta["length"]) / int(code_file.meta["sample_rate"])
    fmt, subtype = _FORMATS.get(Path(output).suffix.lower(), ("WAV", "PCM_16"))
    bar = _Bar("blocks", quiet=False)
    try:
        with _measured(_meter(energy, "decode", loaded.name), "decode", seconds):
            codec.decode_file(loaded, code_file, output, original_rate, fmt, subtype, progress=bar.update)
    finally:
        bar.close()


@cli.command("energy")
@click.argument("files", nargs=-1, metavar="[FILES]...")
@click.option("--report", "mode", flag_value="report", default=True, help="Show the ledger by model and stage.")
@click.option(
    "--measure", "mode", flag_value="measure", help="Run the standard workload (blurs of FILES) and record it."
)
@click.option("--json", "as_json", is_flag=True, help="Report as JSON on stdout.")
@click.option("--csv", "as_csv", is_flag=True, help="Report as CSV on stdout.")
@_model_option(prefix="--measure: ")
@click.option(
    "-n",
    "--runs",
    type=click.IntRange(1, 10000),
    default=20,
    show_default=True,
    help="--measure: blurs of each file.",
)
@click.option(
    "--country",
    metavar="ISO3",
    help="--measure: grid whose carbon intensity prices the energy.  [default: $SPECBLUR_COUNTRY, else USA]",
)
def energy_command(
    files: tuple[str, ...],
    mode: str,
    as_json: bool,
    as_csv: bool,
    model: str | None,
    runs: int,
    country: str | None,
) -> None:
    """What training and edits cost in energy: --report (the default) or --measure.

    Training is always measured; blur, encode and decode are measured with --energy. --measure
    blurs FILES (default: the bundled example) --runs times each, region 1.0-2.0 s and 200-2000 Hz,
    under one codecarbon tracker, and records joules per second of audio. Every figure goes to one
    ledger, energy.csv in the data dir.
    """
    from specblur.errors import UsageError

    if as_json and as_csv:
        raise UsageError("give --json or --csv, not both")
    if mode == "measure":
        if as_json or as_csv:
            raise UsageError("--json and --csv go with --report")
        from specblur.cli import energy as report
        from specblur.energy.ledger import country as check_country

        check_country(country)
        loaded = _load(model)
        click.echo(report.measure_workload(loaded, list(files) or None, runs, country), err=True)
        return
    if files or model or country:
        raise UsageError("FILES, --model and --country go with --measure")
    from specblur.cli import energy as report

    report.show_report(as_json=as_json, as_csv=as_csv)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turning errors into one line and sox's exit codes.

    SIGTERM is handled as Ctrl-C: the work stops, temporary files are removed, nothing half-written
    is left, and training saves a resumable state.
    """
    import signal

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        code = _run(argv)
    finally:
        if argv is None:
            # The work is over (outputs complete or cleaned up): a signal landing now must not turn a
            # finished run into a killed one.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGTERM, previous)
    if code == 130 and argv is None and "torch" in sys.modules:
        # A Ctrl-C that lands while torch is being imported can leave CPython convinced it went
        # unhandled, and it would then kill itself with SIGINT at exit (status -2, not 130). Everything
        # is cleaned up by now, so leave directly with sox's code. (Only then: leaving this way skips
        # the finalizers, and a stopped batch's pool needs them to release its semaphores.)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _run(argv: list[str] | None) -> int:
    """Run the click app; returns the exit code (errors are printed as one line)."""
    try:
        cli.main(args=argv, prog_name="specblur", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        if _State.debug:
            raise
        _err(exc.format_message())
        return 1
    except (click.exceptions.Abort, KeyboardInterrupt):
        _err("interrupted")
        return 130
    except Exception as exc:
        from specblur.errors import SpecblurError

        if _State.debug:
            raise
        if isinstance(exc, SpecblurError):
            if not getattr(exc, "quiet", False):  # a torchrun rank stopped because another failed: rank 0 says why
                _err(str(exc))
            return exc.exit_code
        _err(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)")
        return 2
    return 0
