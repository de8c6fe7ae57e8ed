"""Generate the Python code of the wire contract, or check that the checked-in code is current.

python scripts/gen_protos.py           # regenerate client/papersift/v1/
python scripts/gen_protos.py --check   # exit 1 if the checked-in code differs from the protos
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "client"
PACKAGE_DIR = Path("papersift") / "v1"
BIN_DIR = Path(sys.executable).parent  # where mypy-protobuf installed its protoc plugins


def generate(out_root: Path) -> None:
    """Compile every proto under protos/papersift/v1 into ``out_root``/papersift/v1."""
    protos = sorted(
        str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto")
    )
    (out_root / PACKAGE_DIR).mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"--plugin=protoc-gen-mypy={BIN_DIR / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={BIN_DIR / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *protos,
    ]
    subprocess.run(command, check=True, cwd=PROTO_ROOT)
    (out_root / PACKAGE_DIR / "py.typed").write_text("")


def differences(expected: Path, actual: Path) -> list[str]:
    """Names of files that are missing, extra or different between two directories."""
    comparison = filecmp.dircmp(expected, actual, ignore=["__pycache__"])
    mismatched = filecmp.cmpfiles(expected, actual, comparison.common_files, shallow=False)[1]
    return sorted(comparison.left_only + comparison.right_only + mismatched)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    args = parser.parse_args()
    if not args.check:
        shutil.rmtree(OUT_ROOT / PACKAGE_DIR, ignore_errors=True)
        generate(OUT_ROOT)
        print(f"generated {OUT_ROOT / PACKAGE_DIR}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        stale = differences(Path(tmp) / PACKAGE_DIR, OUT_ROOT / PACKAGE_DIR)
    if stale:
        print(
            "generated code differs from protos/ (run `make proto` and commit):", *stale, sep="\n  "
        )
        return 1
    print("generated code matches protos/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
