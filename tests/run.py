#!/usr/bin/python3
"""Runs the whole suite and ends with one line: "N passed, M failed".

Unit programs (plain and ASan+UBSan builds) report in TAP, and the plain
ones run once more under valgrind's memcheck; each fuzzer
replays its corpus; pytest runs the integration tests.  A crash, a sanitizer
report or a skipped test counts as a failure: nothing is hidden.
"""
import glob
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)
passed = failed = 0
failures = []


def record(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        failures.append(name)
        print(f"FAIL {name}\n{detail}", flush=True)


def run_unit(path):
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP",
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    p = subprocess.run([path], capture_output=True, text=True, env=env,
                       timeout=300)
    out = p.stdout + p.stderr
    oks = re.findall(r"^ok \d+ - (.*)$", p.stdout, re.M)
    bad = re.findall(r"^not ok \d+ - (.*)$", p.stdout, re.M)
    for t in oks:
        record(f"{path}:{t}", True)
    for t in bad:
        record(f"{path}:{t}", False, out[-4000:])
    if p.returncode != 0 and not bad:
        record(f"{path} (exit {p.returncode})", False, out[-4000:])
    print(f"{path}: {len(oks)} ok, {len(bad)} not ok", flush=True)


def run_valgrind(path):
    """A plain unit program again under memcheck: invalid accesses,
    uninitialised values and definite leaks fail it (exit 99)."""
    p = subprocess.run(["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                        "--errors-for-leak-kinds=definite", path],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP"))
    record(f"valgrind {path}", p.returncode == 0, (p.stdout + p.stderr)[-4000:])
    print(f"valgrind {path}: rc={p.returncode}", flush=True)


def run_fuzz_replay(path):
    name = os.path.basename(path)[len("fuzz_"):]
    corpus = os.path.join("tests/fuzz/corpus", name)
    files = sorted(glob.glob(os.path.join(corpus, "*")))
    if not files:
        record(f"{path} corpus", False, f"no corpus in {corpus}")
        return
    p = subprocess.run([path, "-runs=0"] + files[:5000], capture_output=True,
                       text=True, timeout=600)
    record(f"{path} replays {len(files)} inputs", p.returncode == 0,
           p.stderr[-4000:])
    print(f"{path}: replayed {len(files)} inputs, rc={p.returncode}", flush=True)


def run_pytest():
    xml = "build/pytest.xml"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            f"--junitxml={xml}", "tests/integration"]
    args += sys.argv[1:]
    p = subprocess.run(args)
    if not os.path.exists(xml):
        record("pytest", False, f"pytest exited {p.returncode} without a report")
        return
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        bad = [c for c in case if c.tag in ("failure", "error", "skipped")]
        record(name, not bad, "\n".join((c.get("message") or "") for c in bad))


def main():
    for path in sorted(glob.glob("build/test_*")) + sorted(glob.glob("build-asan/test_*")):
        run_unit(path)
    for path in sorted(glob.glob("build/test_*")):
        run_valgrind(path)
    for path in sorted(glob.glob("build-fuzz/fuzz_*")):
        run_fuzz_replay(path)
    if os.path.isdir("tests/integration") and glob.glob("tests/integration/test_*.py"):
        if os.path.exists("build/pytest.xml"):
            os.unlink("build/pytest.xml")
        run_pytest()
    if failures:
        print("failed:\n  " + "\n  ".join(failures))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
