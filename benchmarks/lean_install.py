"""What the lean install costs and how fast `emodet detect <sample>` starts, against the full install.

    python benchmarks/lean_install.py                      # builds a lean venv in a temporary folder
    python benchmarks/lean_install.py --lean-venv /tmp/lean --repeats 7

Run it from the full development environment (`pip install -e ".[test]"`): that environment is the
baseline. Prints one table: installed size of each environment's site-packages, the time of
`pip install .` into the fresh lean venv (with pip's cache as it is), and medians over ``--repeats``
runs of `python -c "import emodet"` and of `emodet detect <sample>` from process start to exit with
its peak resident memory, lean (the bundled ONNX model) against full (the same command, and the bundled
`.keras` model, which loads TensorFlow).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "src" / "emodet" / "assets" / "samples" / "astronaut.jpg"
KERAS_MODEL = REPO / "src" / "emodet" / "assets" / "models" / "emodet-fer2013.keras"


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def site_packages(python: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip())


def timed(argv: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one run of ``argv``, measured by a fresh wrapper process so the
    peak is this command's alone."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "r = subprocess.run(sys.argv[1:], capture_output=True); t = time.perf_counter() - t; "
               "assert r.returncode == 0, r.stderr.decode()[-2000:]; "
               "print(t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True, text=True, check=True).stdout
    seconds, rss = map(float, out.split())
    return seconds, rss


def medians(argv: list[str], repeats: int) -> tuple[float, float]:
    timed(argv)  # warm the file cache
    runs = [timed(argv) for _ in range(repeats)]
    return statistics.median(t for t, _ in runs), statistics.median(m for _, m in runs)


def build_lean(root: Path) -> float:
    venv.create(root, with_pip=True)
    started = time.perf_counter()
    subprocess.run([str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", str(REPO)], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lean-venv", type=Path, help="an existing lean venv (default: build one)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lean = args.lean_venv or Path(tmp) / "venv"
        install_s = None if args.lean_venv else build_lean(lean)
        lean_bin, full_bin = lean / "bin", Path(sys.executable).parent
        rows = [
            ("site-packages, MB", f"{folder_mb(site_packages(lean_bin / 'python')):.0f}",
             f"{folder_mb(Path(sysconfig.get_paths()['purelib'])):.0f}"),
            ("pip install . (s, pip cache as it is)", f"{install_s:.0f}" if install_s else "-", "-"),
        ]
        for label, argv in (("python -c 'import emodet' (s)", ["python", "-c", "import emodet"]),
                            ("emodet detect <sample>, bundled ONNX (s / MB)", ["emodet", "detect", str(SAMPLE)])):
            lean_s, lean_mb = medians([str(lean_bin / argv[0]), *argv[1:]], args.repeats)
            full_s, full_mb = medians([str(full_bin / argv[0]), *argv[1:]], args.repeats)
            rows.append((label, f"{lean_s:.2f} / {lean_mb:.0f}", f"{full_s:.2f} / {full_mb:.0f}"))
        keras_s, keras_mb = medians([str(full_bin / "emodet"), "detect", str(SAMPLE), "--model", str(KERAS_MODEL)],
                                    args.repeats)
        rows.append(("emodet detect <sample>, bundled .keras (s / MB)", "-", f"{keras_s:.2f} / {keras_mb:.0f}"))
    width = max(len(r[0]) for r in rows)
    print(f"{'':<{width}}  {'lean':>14}  {'full':>14}")
    for label, lean_value, full_value in rows:
        print(f"{label:<{width}}  {lean_value:>14}  {full_value:>14}")
    print(f"(medians of {args.repeats} runs; peak RSS of the command's process)")


if __name__ == "__main__":
    main()
