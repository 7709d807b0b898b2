"""`make mutation`: mutmut over the core modules, then the share of mutants killed in each.

The modules and the unit tests run against each mutant are in pyproject.toml's [tool.mutmut]; mutmut
keeps its copy and results in mutants/ (git-ignored). A mutant counts as killed when a test failed, timed
out or crashed on it; "no tests" (no unit test calls the mutated function) and "survived" count
against the score. Not part of make test or CI: a full run takes tens of minutes.

    python scripts/mutation_score.py                 # run mutmut, print the score per module
    python scripts/mutation_score.py --only states   # mutants of one module only (faster; repeatable)
    python scripts/mutation_score.py --report        # print the scores of the last run, run nothing
    python scripts/mutation_score.py --survivors states  # ... and the names of its surviving mutants
                                                         # (`mutmut show NAME` prints the diff)
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
# The modules the score is given for: name -> the source files (globs) that make it up.
MODULES = {
    "states": ["shared/states.py"],
    "jobflow": ["shared/jobflow.py"],
    "outbox relay": ["services/relay/outbox.py"],
    "worker base": ["shared/worker/*.py"],
    "subtitles": ["shared/kinds/asr/subtitles.py"],
    "nms and boxes": ["services/vision_worker/nms.py", "services/vision_worker/detection.py"],
    "convert options": ["shared/kinds/convert/*.py"],
    "language pairs": ["shared/kinds/translate/pairs.py"],
}
KILLED = {"killed", "timeout", "segfault"}


def module_of(source: str) -> str | None:
    for name, patterns in MODULES.items():
        if any(fnmatch.fnmatch(source, pattern) for pattern in patterns):
            return name
    return None


def results() -> dict[str, dict[str, str]]:
    """Mutant name -> status, per module, from mutmut's result files."""
    from mutmut.stats import status_by_exit_code

    found: dict[str, dict[str, str]] = {name: {} for name in MODULES}
    for meta in MUTANTS.rglob("*.py.meta"):
        module = module_of(str(meta.relative_to(MUTANTS))[:-len(".meta")])
        if module is None:
            continue
        for mutant, exit_code in json.loads(meta.read_text())["exit_code_by_key"].items():
            found[module][mutant] = status_by_exit_code[exit_code]
    return found


def report(found: dict[str, dict[str, str]], survivors_of: str | None) -> None:
    print(f"{'module':<18}{'mutants':>9}{'killed':>8}{'survived':>10}{'no tests':>10}{'unrun':>7}{'score':>8}")
    for module, statuses in found.items():
        if not statuses:
            print(f"{module:<18}{'not run':>9}")
            continue
        values = list(statuses.values())
        killed = sum(status in KILLED for status in values)
        untested = values.count("no tests")
        unrun = values.count("not checked")
        survived = len(values) - killed - untested - unrun
        print(f"{module:<18}{len(values):>9}{killed:>8}{survived:>10}{untested:>10}{unrun:>7}"
              f"{100.0 * killed / len(values):>7.1f}%")
    if survivors_of in found:
        print(f"\nsurviving mutants of {survivors_of} (`mutmut show NAME` for the change):")
        for mutant, status in sorted(found[survivors_of].items()):
            if status not in KILLED:
                print(f"  {status:<10} {mutant}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=MODULES, action="append",
                        help="mutate and test this module only (may be given more than once)")
    parser.add_argument("--report", action="store_true", help="print the last run's scores, run nothing")
    parser.add_argument("--survivors", choices=MODULES, help="also list this module's surviving mutants")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    options = parser.parse_args()
    if not options.report:
        # A fresh copy each run: mutmut's cache does not see tests added since the last run.
        shutil.rmtree(MUTANTS, ignore_errors=True)
        names = []
        for module in options.only or []:
            names += [".".join(Path(pattern).with_suffix("").parts) + "*" for pattern in MODULES[module]]
        mutmut = Path(sys.executable).parent / "mutmut"
        # mutmut's progress line is long and redrawn in place; its summary is the table below.
        run = subprocess.run([str(mutmut), "run", "--max-children", str(options.max_children), *names],
                             cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
        if run.returncode != 0:
            print(f"mutmut run failed (exit {run.returncode}); rerun it by hand to see why", file=sys.stderr)
            return run.returncode
    found = results()
    if options.only:
        found = {module: found[module] for module in options.only}
    report(found, options.survivors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
