"""The committed *_pb2 modules are what grpcio-tools generates from the .proto files, and they
import on the oldest grpcio and protobuf that pyproject.toml allows.

The generated code carries the version of the generator that made it (grpcio-tools' and protoc's
stamps), and refuses a runtime older than that stamp. A new patch release of grpcio-tools on a
fresh machine changes only the stamp, so the comparison leaves the stamps out; what the stamps
say is checked against pyproject's lower bounds instead (regenerating with a newer generator
needs those bounds raised with it).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
V1 = ROOT / "protos" / "tongjian" / "v1"

_GRPC_STAMP = re.compile(r"^GRPC_GENERATED_VERSION = '([\d.]+)'$", re.MULTILINE)
_PROTOBUF_STAMP = re.compile(r"^# Protobuf Python Version: ([\d.]+)$", re.MULTILINE)
_PROTOBUF_CHECK = re.compile(
    r"(ValidateProtobufRuntimeVersion\(\n\s*_runtime_version\.Domain\.PUBLIC,\n)\s*(\d+),\n\s*(\d+),\n\s*(\d+),\n"
)


def _without_stamps(text: str) -> str:
    text = _GRPC_STAMP.sub("GRPC_GENERATED_VERSION = '(stamp)'", text)
    text = _PROTOBUF_STAMP.sub("# Protobuf Python Version: (stamp)", text)
    return _PROTOBUF_CHECK.sub(r"\1(stamp),\n", text)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _lower_bound(package: str) -> tuple[int, ...]:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dependency in dependencies:
        found = re.fullmatch(rf"{re.escape(package)}>=([\d.]+)", dependency)
        if found:
            return _version(found.group(1))
    raise AssertionError(f"pyproject.toml pins no lower bound for {package}")


def test_generated_modules_match_protos(tmp_path: Path) -> None:
    protos = sorted(str(p.relative_to(ROOT)) for p in V1.glob("*.proto"))
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
        if not committed.exists() or _without_stamps(committed.read_text()) != _without_stamps(
            path.read_text()
        ):
            stale.append(str(committed.relative_to(ROOT)))
    assert not stale, f"regenerate with scripts/gen-protos: stale or missing {stale}"


def test_the_stamps_are_not_newer_than_the_pinned_runtimes() -> None:
    grpc_floor, protobuf_floor = _lower_bound("grpcio"), _lower_bound("protobuf")
    for path in sorted(V1.glob("*_pb2_grpc.py")):
        stamp = _GRPC_STAMP.search(path.read_text())
        assert stamp is not None, f"{path.name}: no GRPC_GENERATED_VERSION"
        assert _version(stamp.group(1)) <= grpc_floor, f"{path.name} needs grpcio>={stamp.group(1)}"
    for path in sorted(V1.glob("*_pb2.py")):
        check = _PROTOBUF_CHECK.search(path.read_text())
        assert check is not None, f"{path.name}: no ValidateProtobufRuntimeVersion"
        needed = tuple(int(check.group(i)) for i in (2, 3, 4))
        assert needed <= protobuf_floor, f"{path.name} needs protobuf>={'.'.join(map(str, needed))}"


def test_the_stamp_comparison_still_sees_a_changed_module() -> None:
    committed = (V1 / "ingest_pb2_grpc.py").read_text()
    newer_tools = _GRPC_STAMP.sub("GRPC_GENERATED_VERSION = '9.99.9'", committed)
    assert _without_stamps(newer_tools) == _without_stamps(committed)
    assert _without_stamps(committed.replace("Submit", "Send")) != _without_stamps(committed)
    pb2 = (V1 / "ingest_pb2.py").read_text()
    assert _PROTOBUF_CHECK.search(pb2) is not None and "(stamp)" in _without_stamps(pb2)
