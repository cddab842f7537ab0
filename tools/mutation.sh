#!/usr/bin/env bash
# Mutation testing of the code that keeps specblur's promises (docs/MUTATION.md), with mutmut.
#
#   tools/mutation.sh [GROUP...]     GROUP: patching plan linked editor (default: all four)
#   MUTATION_TESTS_REV=fc8d53e tools/mutation.sh patching    the same mutants against older tests
#   MUTATION_TESTS=tests/test_patching.py tools/mutation.sh patching    other test files
#
# Each group mutates a few functions and runs only the test files that cover them. The run happens
# in a scratch copy of the tracked files ($MUTATION_DIR, default /tmp/specblur-mutation), so the
# checkout is left alone; the tiny model the tests need is trained once there (through the CLI, as
# the tests' own fixture does) and handed to every mutant's run by SPECBLUR_TEST_MODELS. Results:
# $MUTATION_DIR/GROUP.txt (mutmut's results: killed, survived, timeout per mutant); survivors can
# be shown with `cd $MUTATION_DIR/GROUP && mutmut show NAME`. Slow (minutes per group on 2 cores):
# not run in CI; tests/test_patching.py runs a small fixed set of patching mutants there instead.
# Needs mutmut (the `test` extra installs it).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$repo/.venv/bin/python}
mutmut=$(dirname "$py")/mutmut
work=${MUTATION_DIR:-/tmp/specblur-mutation}
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(patching plan linked editor)
mkdir -p "$work"

# group -> "files to mutate|mutant name patterns|test files"
spec() {
    case $1 in
    patching) echo "specblur/audio.py|specblur.audio.x_write_patche* specblur.audio.x__patched_bytes__* specblur.audio.x__copy_range__*|tests/test_patching.py tests/test_container.py" ;;
    plan) echo "specblur/edit/plan.py specblur/edit/on_file.py specblur/edit/region.py|specblur.edit.plan.x_plan__* specblur.edit.on_file.x_edit_in_place__* specblur.edit.region.x_locate__*|tests/test_region.py tests/test_blur.py" ;;
    linked) echo "specblur/cli/__init__.py specblur/edit/segment.py|specblur.cli.x__parse_amount__* specblur.edit.segment.x_edit_segment__* specblur.edit.segment.x__magnitude__*|tests/test_effect_controls.py" ;;
    editor) echo "specblur/editor/server.py|specblur.editor.server.xǁServerǁ__init____* specblur.editor.server.xǁHandlerǁ*|tests/test_editor.py" ;;
    *) echo "unknown group $1: use patching, plan, linked or editor" >&2; exit 1 ;;
    esac
}

models=$work/models
if [ ! -f "$models/tiny.pt" ]; then
    echo "training the tests' tiny model once ($models)"
    tones=$work/tones
    mkdir -p "$tones" "$work/data"
    (cd "$repo" && "$py" -c "
import sys; sys.path.insert(0, '.')
from pathlib import Path
import soundfile as sf
from tests.conftest import tone
for i in range(12):  # the tones_dir fixture's notes
    f0 = 110.0 * 2 ** (i / 5)
    rate = 16000 if i % 3 else 22050
    sf.write(Path('$tones') / f'note{i:02d}.wav', tone(1.5 + 0.0137 * i, rate, (f0, 2 * f0, 3 * f0), seed=i), rate)
")
    SPECBLUR_DATA_DIR=$work/data nice -n 5 "$py" -m specblur train "$tones" --name tiny --preset tiny --steps 300 --seed 1
    mkdir -p "$models" && cp "$work"/data/models/tiny* "$models"/
fi

for group in "${groups[@]}"; do
    IFS='|' read -r files names tests <<<"$(spec "$group")"
    tests=${MUTATION_TESTS:-$tests}
    dir=$work/$group
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$repo" && git ls-files -z | xargs -0 cp --parents -t "$dir")
    if [ -n "${MUTATION_TESTS_REV:-}" ]; then
        # the score "before": the group's test files as they were at that revision (those that
        # existed), with this checkout's conftest (which can reuse the trained model)
        for t in $tests; do
            rm -f "$dir/$t"
            (cd "$repo" && git show "$MUTATION_TESTS_REV:$t" >"$dir/$t" 2>/dev/null) || rm -f "$dir/$t"
        done
        present=""
        for t in $tests; do [ -f "$dir/$t" ] && present="$present $t"; done
        tests=$present
    fi
    {
        echo "[mutmut]"
        echo "source_paths=specblur"
        echo "only_mutate="
        for f in $files; do echo "    $f"; done
        echo "pytest_add_cli_args=-p no:cacheprovider -x -q"
        # workers forked from a process that ran the tests (onnxruntime's and torch's threads) hang
        echo "process_isolation=forkserver"
        echo "pytest_add_cli_args_test_selection="
        for t in $tests; do echo "    $t"; done
    } >"$dir/setup.cfg"
    echo "== $group: mutating $files; tests: $tests"
    # shellcheck disable=SC2086
    (cd "$dir" && SPECBLUR_TEST_MODELS=$models nice -n 5 "$mutmut" run --max-children 2 $names) || true
    (cd "$dir" && "$mutmut" results --all true >"$work/$group.txt" 2>&1) || true
    killed=$(grep -c ': killed' "$work/$group.txt" || true)
    survived=$(grep -c ': survived' "$work/$group.txt" || true)
    other=$(grep -vc ': killed\|: survived' "$work/$group.txt" || true)
    echo "== $group: killed $killed, survived $survived, other $other (see $work/$group.txt)"
done
