"""Archive transfer between two province hubs: a 100 MB archive (many photos) from Chongqing (50)
to Sichuan (51), against raw gRPC streaming of the same bytes in the same run.

Processes, each measured on its own (RSS sampled every 10 ms from /proc/self/statm):

* transfer: two real hubs (``hub.server.HubServer`` with federation and archive transfer, SQLite
  files), the Chongqing car's bag already exported into the source's outgoing directory with
  photos added (the register holds no photos, so the benchmark adds them as payload files and
  signs the bag again with the hub key, as an export with photos would). The destination's
  driver offers, fetches the bag (pieces of at most 256 KiB of a file, several small files to a
  message of at most 960 KiB) with a confirmation (fsync + commit) every 8 MiB, verifies every
  item and imports it. Figures: fetch time (offer to the last byte
  confirmed) and end-to-end time (to the import, verification included), peak RSS growth of
  each hub process over its RSS before the transfer.
* baseline: a bare gRPC server process streams the same files in 256 KiB chunks, one a message,
  to a bare client process, which counts the bytes and drops them (and, a second time, writes
  each file without fsync).

``TONGJIAN_BENCH_DRIVER_LOG=1`` prints the destination driver's own timing of each fetch.

Where it runs matters: both hubs' archive directories are under the system temp directory
(``TMPDIR``). On ext4 a directory whose block group holds many recently deleted inodes (a /tmp
shared with other test and benchmark runs) makes every file created there cost the kernel time:
on the 2-core VM of December 2026, 522 empty files took 0.33 s of CPU in /tmp and 0.01 s in
/var/tmp (``ext4_new_inode`` -> ``recently_deleted`` in ``perf``), which the fetch pays and raw
streaming does not. Compare runs in the same place, ``TMPDIR=/var/tmp`` for the hubs' own costs.

    .venv/bin/python benchmarks/archive_transfer.py            # 100 MB, 500 photos
    .venv/bin/python benchmarks/archive_transfer.py --quick    # 8 MB: a smoke run in seconds

Goals (issue 17): fetch throughput >= 50 % of raw streaming; peak memory growth < 64 MB on each end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.archive_bag import MANIFEST, SIGNATURE_FILE, TAG_MANIFEST, export_bag  # noqa: E402
from hub.archive_bag import _write_tag_files as write_tag_files  # noqa: E402
from hub.archive_stream import CHUNK_BYTES, Position, bag_files, read_chunks  # noqa: E402
from hub.countersign import HubIdentity  # noqa: E402
from hub.models import ArchiveTransfer  # noqa: E402
from hub.server import FederationConfig, HubConfig, HubServer  # noqa: E402
from hub.store import HubStore  # noqa: E402
from hub.transfer_driver import TransferSettings  # noqa: E402
from hub.transfer_states import TransferState  # noqa: E402
from hub.trust_list import NATIONAL_SIGNER, ProvinceHubEntry, build_trust_list  # noqa: E402
from inspection.vehicle_register_csv import RegisterRow  # noqa: E402
from pki.authority import init_ca  # noqa: E402
from protos.signed_document import sign_document  # noqa: E402
from simulators.realistic_record import realistic_record  # noqa: E402

MiB = 1024 * 1024
_RAW_SERVICE = "bench.RawBag"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Samples this process's RSS; ``mark`` starts a new window, ``figures`` reports it."""

    def __init__(self) -> None:
        self.baseline = _rss_bytes()
        self.peak = self.baseline
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.01)

    def mark(self) -> None:
        self.baseline = self.peak = _rss_bytes()

    def figures(self) -> dict[str, int]:
        return {"baseline": self.baseline, "peak": self.peak}


def _report_on_signals(sampler: RssSampler, out: Path) -> None:
    signal.signal(signal.SIGUSR1, lambda *_: sampler.mark())
    signal.signal(signal.SIGUSR2, lambda *_: out.write_text(json.dumps(sampler.figures())))


# ---------------------------------------------------------------- child processes


async def _serve_hub(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    if os.environ.get("TONGJIAN_BENCH_DRIVER_LOG"):  # the driver's own timing of each fetch
        logging.getLogger("hub.transfer_driver").setLevel(logging.INFO)
    sampler = RssSampler()
    _report_on_signals(sampler, Path(args.rss_out))
    hub_key = serialization.load_pem_private_key(Path(args.hub_key).read_bytes(), None)
    national = serialization.load_pem_public_key(Path(args.national_key).read_bytes())
    config = HubConfig(
        database_url=args.database_url,
        listen=f"127.0.0.1:{args.port}",
        province=args.province,
        federation=FederationConfig(hub_key=hub_key, national_key=national),  # type: ignore[arg-type]
        archive_transfer=TransferSettings(archive_dir=Path(args.archive_dir), poll_s=0.05),
    )
    async with HubServer(config):
        print("ready", flush=True)
        await asyncio.Event().wait()


async def _serve_raw(args: argparse.Namespace) -> None:
    sampler = RssSampler()
    _report_on_signals(sampler, Path(args.rss_out))
    bag = Path(args.bag)
    files = bag_files(bag)

    async def fetch(request: bytes, context: Any) -> Any:
        for _index, _offset, data in read_chunks(bag, files, Position(0, 0), CHUNK_BYTES):
            yield data

    # The hub's own send limit, so the baseline's messages may be as large as the hub's.
    server = grpc.aio.server(options=[("grpc.max_send_message_length", 1024 * 1024)])
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                _RAW_SERVICE, {"Fetch": grpc.unary_stream_rpc_method_handler(fetch)}
            ),
        )
    )
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


async def _raw_client(args: argparse.Namespace) -> None:
    """Receive the raw stream; with ``--store DIR`` write each file of the bag there as it comes
    (no fsync, no bookkeeping): the disk's share of the work, for comparison."""
    sampler = RssSampler()
    files = bag_files(Path(args.bag))
    store = Path(args.store) if args.store else None
    async with grpc.aio.insecure_channel(f"127.0.0.1:{args.port}") as channel:
        call = channel.unary_stream(f"/{_RAW_SERVICE}/Fetch")(b"")
        sampler.mark()
        started = time.perf_counter()
        received = 0
        index, written, handle = 0, 0, None
        async for data in call:
            received += len(data)
            if store is None:
                continue
            while index < len(files) and written == files[index].size and files[index].size > 0:
                index, written = index + 1, 0
            if handle is None:
                path = store / files[index].path
                path.parent.mkdir(parents=True, exist_ok=True)
                handle = path.open("wb")
            handle.write(data)
            written += len(data)
            if written == files[index].size:
                handle.close()
                handle, index, written = None, index + 1, 0
        seconds = time.perf_counter() - started
    print(json.dumps({"bytes": received, "seconds": seconds, **sampler.figures()}), flush=True)


# ---------------------------------------------------------------- the bag with photos


def add_photos(
    bag: Path, identity: HubIdentity, photos: Path, now: datetime, transfer: tuple[str, str]
) -> None:
    """The files of ``photos`` as payload files of the bag (hard links), listed in the manifest,
    the tag files written and signed again (as an export that carries photos would write them)."""
    directory = bag / "data" / "photos"
    directory.mkdir(parents=True)
    with (bag / MANIFEST).open("a", encoding="utf-8") as manifest:
        for photo in sorted(photos.iterdir()):
            os.link(photo, directory / photo.name)
            digest = hashlib.sha256(photo.read_bytes()).hexdigest()
            manifest.write(f"{digest}  data/photos/{photo.name}\n")
    payload = [path for path in (bag / "data").rglob("*") if path.is_file()]
    for name in ("bagit.txt", "bag-info.txt", TAG_MANIFEST, SIGNATURE_FILE):
        (bag / name).unlink()
    vin = json.loads((bag / "data" / "vehicle.json").read_bytes())["vin"]
    write_tag_files(bag, vin, identity, now, sum(p.stat().st_size for p in payload), len(payload), transfer)


def _pem(key: Ed25519PrivateKey, path: Path, public: bool) -> Path:
    if public:
        data = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        data = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    path.write_bytes(data)
    return path


def _spawn(role: str, *extra: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--role", role, *extra],
        cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    if b"ready" not in line:
        raise SystemExit(f"{role} did not start: {line!r}")
    return process


def _rss_of(process: subprocess.Popen[bytes], out: Path) -> dict[str, int]:
    out.unlink(missing_ok=True)
    process.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 10
    while not out.exists() or not out.read_text():
        if time.monotonic() > deadline:
            raise SystemExit(f"no RSS figures from {process.args}")
        time.sleep(0.02)
    figures: dict[str, int] = json.loads(out.read_text())
    return figures


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


# ---------------------------------------------------------------- the run


def _transfer_once(
    urls: dict[str, str], workdir: Path, keys: dict[str, Ed25519PrivateKey], vin: str, photos: Path
) -> dict[str, float]:
    """One transfer of ``vin``'s archive (with the photos) while both hubs run: its times."""
    now = datetime.now(UTC)
    transfer_id = str(uuid.uuid4())
    source = HubStore(urls["50"])
    bag = workdir / "a50" / "outgoing" / transfer_id / "bag"
    bag.parent.mkdir(parents=True)
    identity = HubIdentity("50", keys["50"])
    export_bag(source, vin, bag, identity, now, (transfer_id, "51"))
    source.dispose()
    add_photos(bag, identity, photos, now, (transfer_id, "51"))
    total = sum(file.size for file in bag_files(bag))
    destination = HubStore(urls["51"])
    with destination.database.write() as session:
        session.add(
            ArchiveTransfer(
                transfer_id=transfer_id, role="destination", vin=vin, from_province="50", to_province="51",
                state=TransferState.REQUESTED.value, requested_by="benchmark", requested_at=now,
                updated_at=now, expires_at=now + timedelta(days=30), total_bytes=0, confirmed_file=0,
                confirmed_offset=0, confirmed_bytes=0,
            )
        )  # fmt: skip
    started = fetched = done = None
    deadline = time.monotonic() + 600
    while done is None:
        with destination.database.read() as session:
            row = session.get(ArchiveTransfer, transfer_id)
            assert row is not None
            state, confirmed, reason = row.state, row.confirmed_bytes, row.reason
        moment = time.perf_counter()
        if started is None and state != TransferState.REQUESTED.value:
            started = moment
        if fetched is None and state == TransferState.SENDING.value and confirmed >= total:
            fetched = moment
        if state == TransferState.RECEIVED.value:
            fetched = fetched or moment
            done = moment
        elif state in ("refused", "expired"):
            raise SystemExit(f"the transfer ended {state}: {reason}")
        if time.monotonic() > deadline:
            raise SystemExit("the transfer did not finish in 10 minutes")
        time.sleep(0.01)
    destination.dispose()
    assert started is not None and fetched is not None
    return {
        "bytes": total,
        "files": len(bag_files(bag)),
        "fetch_s": fetched - started,
        "end_to_end_s": done - started,
    }


def _raw_once(port: int, bag: Path, store: Path | None) -> dict[str, Any]:
    extra = ["--store", str(store)] if store is not None else []
    done = subprocess.run(
        [sys.executable, __file__, "--role", "raw-client", "--port", str(port), "--bag", str(bag), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    if store is not None:
        shutil.rmtree(store)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def run(total_mb: float, photo_kb: int, rounds: int, workdir: Path) -> dict[str, Any]:
    """``rounds`` transfers and raw streams of the same bytes, interleaved; the best of each."""
    now = datetime.now(UTC)
    national = Ed25519PrivateKey.generate()
    keys = {p: Ed25519PrivateKey.generate() for p in ("50", "51")}
    ports = {p: _free_port() for p in ("50", "51")}
    urls = {p: f"sqlite:///{workdir / f'hub{p}.sqlite3'}" for p in ("50", "51")}
    ca_pem = init_ca(workdir / "ca").cert_path.read_bytes()
    entries = [
        ProvinceHubEntry.create(p, p, f"127.0.0.1:{ports[p]}", f"hub-{p}.peer", ca_pem, keys[p].public_key())
        for p in ("50", "51")
    ]
    trust = sign_document(
        build_trust_list(1, entries, now - timedelta(minutes=1), now + timedelta(days=1)),
        NATIONAL_SIGNER,
        national,
    )
    vehicles = [realistic_record(i, "50-0001").vehicle for i in range(rounds)]
    for province in ("50", "51"):
        store = HubStore(urls[province])
        store.migrate()
        store.trust_lists.install(trust, national.public_key(), now)
        if province == "50":
            rows = [RegisterRow(i + 2, vehicle, f"owner-{i}") for i, vehicle in enumerate(vehicles)]
            assert store.vehicles.import_rows(rows, "50").inserted == rounds
        store.dispose()
    photos = workdir / "photos"
    photos.mkdir()
    for number in range(1, max(1, int(total_mb * MiB) // (photo_kb * 1024)) + 1):
        (photos / f"{number:05d}.jpg").write_bytes(os.urandom(photo_kb * 1024))

    national_pub = _pem(national, workdir / "national.pub.pem", public=True)
    hubs = {
        p: _spawn(
            "hub",
            "--province",
            p,
            "--port",
            str(ports[p]),
            "--database-url",
            urls[p],
            "--hub-key",
            str(_pem(keys[p], workdir / f"hub{p}.pem", public=False)),
            "--national-key",
            str(national_pub),
            "--archive-dir",
            str(workdir / f"a{p}"),
            "--rss-out",
            str(workdir / f"rss{p}.json"),
        )
        for p in ("50", "51")
    }
    transfers: list[dict[str, float]] = []
    raws: list[dict[str, Any]] = []
    stored: list[dict[str, Any]] = []
    raw_server: subprocess.Popen[bytes] | None = None
    try:
        time.sleep(0.5)
        for process in hubs.values():
            process.send_signal(signal.SIGUSR1)  # RSS before the transfers
        time.sleep(0.1)
        for round_ in range(rounds):
            transfers.append(_transfer_once(urls, workdir, keys, vehicles[round_].vin, photos))
            if raw_server is None:
                bag = next((workdir / "a50" / "outgoing").glob("*/bag"))
                raw_port = _free_port()
                raw_server = _spawn(
                    "raw-server",
                    "--port",
                    str(raw_port),
                    "--bag",
                    str(bag),
                    "--rss-out",
                    str(workdir / "rssraw.json"),
                )
                raw_server.send_signal(signal.SIGUSR1)
            raws.append(_raw_once(raw_port, bag, None))
            stored.append(_raw_once(raw_port, bag, workdir / "raw-store"))
        rss = {p: _rss_of(hubs[p], workdir / f"rss{p}.json") for p in ("50", "51")}
        raw_server_rss = _rss_of(raw_server, workdir / "rssraw.json") if raw_server else {}
    finally:
        for process in [*hubs.values(), *([raw_server] if raw_server else [])]:
            _stop(process)
    total = int(transfers[0]["bytes"])
    if any(raw["bytes"] != total for raw in raws):
        raise SystemExit(f"the raw stream carried {raws[0]['bytes']} bytes, the bag has {total}")
    best = min(transfers, key=lambda t: t["fetch_s"])
    return {
        "rounds": rounds,
        "bytes": total,
        "files": int(best["files"]),
        "fetch_s": best["fetch_s"],
        "end_to_end_s": min(t["end_to_end_s"] for t in transfers),
        "raw_s": min(raw["seconds"] for raw in raws),
        "raw_store_s": min(s["seconds"] for s in stored),
        "rss": rss,
        "raw_rss": {
            "server": raw_server_rss,
            "client": {"baseline": raws[0]["baseline"], "peak": raws[0]["peak"]},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="8 MB: a smoke run")
    parser.add_argument("--mb", type=float, default=100.0, help="archive size in MB (default 100)")
    parser.add_argument("--photo-kb", type=int, default=200, help="size of each photo (default 200 kB)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="transfers and raw streams, interleaved; the best counts"
    )
    parser.add_argument("--role", choices=["hub", "raw-server", "raw-client"], help=argparse.SUPPRESS)
    for name in ("--province", "--port", "--database-url", "--hub-key", "--national-key", "--archive-dir",
                 "--rss-out", "--bag", "--store"):  # fmt: skip
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "hub":
        asyncio.run(_serve_hub(args))
        return
    if args.role == "raw-server":
        asyncio.run(_serve_raw(args))
        return
    if args.role == "raw-client":
        asyncio.run(_raw_client(args))
        return
    total_mb = 8.0 if args.quick else args.mb
    rounds = 1 if args.quick else args.rounds
    with tempfile.TemporaryDirectory(prefix="tongjian-archive-bench-") as tmp:
        figures = run(total_mb, args.photo_kb, rounds, Path(tmp))
    size = figures["bytes"] / MiB
    fetch_rate = size / figures["fetch_s"]
    e2e_rate = size / figures["end_to_end_s"]
    raw_rate = size / figures["raw_s"]
    ratio = fetch_rate / raw_rate
    growth = {p: (r["peak"] - r["baseline"]) / MiB for p, r in figures["rss"].items()}
    print(f"best of {figures['rounds']} round(s) of each, interleaved")
    print(
        f"archive: {size:.1f} MiB in {figures['files']} files ({args.photo_kb} kB photos), chunks of {CHUNK_BYTES // 1024} KiB"
    )
    print(
        f"raw gRPC streaming (bare server -> bare client, bytes dropped): {figures['raw_s']:.2f} s = {raw_rate:.0f} MiB/s"
    )
    print(
        f"hub to hub fetch (staging, fsync + commit every 8 MiB): {figures['fetch_s']:.2f} s = {fetch_rate:.0f} MiB/s, "
        f"{ratio * 100:.0f} % of raw"
    )
    stored_rate = size / figures["raw_store_s"]
    print(
        f"raw gRPC streaming, each file written to disk (no fsync): {figures['raw_store_s']:.2f} s = "
        f"{stored_rate:.0f} MiB/s; hub fetch {fetch_rate / stored_rate * 100:.0f} % of it"
    )
    print(
        f"hub to hub end to end (fetch + every item verified + import): {figures['end_to_end_s']:.2f} s = {e2e_rate:.0f} MiB/s"
    )
    print(f"peak RSS growth: source hub {growth['50']:.1f} MiB, destination hub {growth['51']:.1f} MiB")
    raw_growth = {k: (v["peak"] - v["baseline"]) / MiB for k, v in figures["raw_rss"].items()}
    print(f"  (raw baseline: server {raw_growth['server']:.1f} MiB, client {raw_growth['client']:.1f} MiB)")
    met = "met" if ratio >= 0.5 else "MISSED"
    memory_met = "met" if max(growth.values()) < 64 else "MISSED"
    print(
        f"goal fetch throughput >= 50 % of raw streaming: {met}; peak RSS growth < 64 MB each end: {memory_met}"
    )


if __name__ == "__main__":
    main()
