"""Start-up: ``specblur --help`` and argument errors against ``python -c pass``; what a blur imports.

Target: ``--help`` in at most 0.3 s, without importing torch; and a real ``specblur blur`` (the CLI's
entry point called in one process, on a 4 s clip) imports neither torch nor torchaudio. Run:
``python benchmarks/startup.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from _common import parser, report, table, time_commands, tone_file, verdict

HEAVY = ("torch", "torchaudio", "sklearn", "codecarbon")
TARGET_HELP_S = 0.3


def imported_by(code: str) -> str:
    """The heavy modules a fresh interpreter holds after running ``code`` (which prints them)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"benchmark: the import check failed: {result.stderr[-500:]}")
    return result.stdout.strip().splitlines()[-1]


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    exe = str(Path(sys.executable).with_name("specblur"))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="specblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = tone_file(work / "clip4.wav", 4.0, 16000, 1)
    cases = {
        "python -c pass (reference)": [sys.executable, "-c", "pass"],
        "specblur --help": [exe, "--help"],
        "specblur blur --help": [exe, "blur", "--help"],
        "specblur blur (missing arguments: exit 1)": [exe, "blur"],
        "specblur blur a b --time abc (bad spec: exit 1)": [exe, "blur", "a.wav", "b.wav", "--time", "abc"],
    }
    times = time_commands(cases, args.repeat, check=False)
    ref = times["python -c pass (reference)"]
    listing = f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    heavy = imported_by(f"import sys, specblur.cli; {listing}")
    blur_argv = ["blur", str(clip), str(work / "out.wav"), "--time", "1.0-2.0", "--freq", "200-2000", "-f", "-q"]
    blur_code = (
        "import sys, specblur.cli\n"
        "try:\n"
        f"    specblur.cli.main({blur_argv!r})\n"
        "except SystemExit as exc:\n"
        "    if exc.code:\n"
        "        raise\n"
        f"{listing}"
    )
    blur_heavy = imported_by(blur_code)
    rows = [[name, t * 1000, t / ref] for name, t in times.items()]
    help_ok = times["specblur --help"] <= TARGET_HELP_S and heavy == "[]"
    blur_ok = "'torch'" not in blur_heavy and "'torchaudio'" not in blur_heavy
    text = table(
        f"Start-up (median wall time of {args.repeat})",
        ["command", "ms", "x python -c pass"],
        rows,
    )
    text += f"\n\nheavy modules {list(HEAVY)} imported by `import specblur.cli`: {heavy}"
    text += f"\nheavy modules imported by a real `specblur blur` of a 4 s clip (specblur.cli.main): {blur_heavy}"
    text += f"\ntarget: --help <= {TARGET_HELP_S * 1000:.0f} ms without torch: {verdict(help_ok)}"
    text += f"\ntarget: `specblur blur` imports no torch or torchaudio: {verdict(blur_ok)}"
    results = {
        "ms": {k: v * 1000 for k, v in times.items()},
        "heavy_imports": heavy,
        "blur_heavy_imports": blur_heavy,
        "help_met": help_ok,
        "blur_without_torch_met": blur_ok,
    }
    report("startup", text, results, args.json)


if __name__ == "__main__":
    main()
