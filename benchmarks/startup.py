"""Start-up: ``specblur --help`` and argument errors against ``python -c pass``.

Target: ``--help`` in at most 0.3 s, without importing torch. Run: ``python benchmarks/startup.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _common import parser, report, table, time_command, verdict


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    exe = str(Path(sys.executable).with_name("specblur"))
    cases = {
        "python -c pass (reference)": [sys.executable, "-c", "pass"],
        "specblur --help": [exe, "--help"],
        "specblur blur --help": [exe, "blur", "--help"],
        "specblur blur (missing arguments: exit 1)": [exe, "blur"],
        "specblur blur a b --time abc (bad spec: exit 1)": [exe, "blur", "a.wav", "b.wav", "--time", "abc"],
    }
    times = {name: time_command(cmd, args.repeat, check=False) for name, cmd in cases.items()}
    ref = times["python -c pass (reference)"]
    code = (
        "import sys, specblur.cli; "
        "print(sorted(m for m in ('torch', 'torchaudio', 'sklearn', 'codecarbon') if m in sys.modules))"
    )
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
    rows = [[name, t * 1000, t / ref] for name, t in times.items()]
    help_ok = times["specblur --help"] <= 0.3 and heavy == "[]"
    text = table(
        "Start-up (median wall time)",
        ["command", "ms", "x python -c pass"],
        rows,
    )
    text += f"\n\nheavy modules imported by `import specblur.cli`: {heavy}"
    text += f"\ntarget: --help <= 300 ms without torch: {verdict(help_ok)}"
    report("startup", text, {"ms": {k: v * 1000 for k, v in times.items()}, "heavy_imports": heavy}, args.json)


if __name__ == "__main__":
    main()
