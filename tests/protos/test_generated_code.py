"""The committed *_pb2 modules are exactly what grpcio-tools generates from the .proto files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_modules_match_protos(tmp_path: Path) -> None:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "protos" / "tongjian" / "v1").glob("*.proto"))
    assert protos, "no .proto files found"
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", ".", f"--python_out={tmp_path}",
         f"--grpc_python_out={tmp_path}", f"--pyi_out={tmp_path}", *protos],
        cwd=ROOT, check=True,
    )  # fmt: skip
    generated = sorted(tmp_path.rglob("*_pb2*.py*"))
    assert generated
    stale = []
    for path in generated:
        committed = ROOT / path.relative_to(tmp_path)
        if not committed.exists() or committed.read_bytes() != path.read_bytes():
            stale.append(str(committed.relative_to(ROOT)))
    assert not stale, f"regenerate with scripts/gen-protos: stale or missing {stale}"
