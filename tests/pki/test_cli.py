"""``tongjian pki init`` / ``issue``: a round trip to certificates that gRPC accepts, and errors that name the file."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import grpc
import grpc.aio
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from pki.grpc_credentials import channel_credentials, peer_common_name, server_credentials
from tongjian.cli import main

ROOT = Path(__file__).resolve().parents[2]


def tongjian(*argv: str) -> int:
    return main(list(argv))


async def test_init_and_issue_give_a_working_mtls_pair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca, hub, station = tmp_path / "ca", tmp_path / "hub", tmp_path / "station"
    assert tongjian("pki", "init", "--out", str(ca), "--name", "Chongqing dev CA") == 0
    assert (
        tongjian("pki", "issue", "--ca", str(ca), "--role", "hub", "--name", "hub-50", "--out", str(hub)) == 0
    )
    assert (
        tongjian(
            "pki", "issue", "--ca", str(ca), "--role", "station", "--name", "50-0042", "--out", str(station)
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert str(station / "50-0042.cert.pem") in printed and str(station / "50-0042.key.pem") in printed
    assert stat.S_IMODE((station / "50-0042.key.pem").stat().st_mode) == 0o600
    ca_cert = x509.load_pem_x509_certificate((ca / "ca.cert.pem").read_bytes())
    assert ca_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Chongqing dev CA"

    seen: list[str | None] = []

    async def who(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        seen.append(peer_common_name(context))
        return b""

    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("t.T", {"Who": grpc.unary_unary_rpc_method_handler(who)}),)
    )
    port = server.add_secure_port(
        "127.0.0.1:0",
        server_credentials(hub / "hub-50.cert.pem", hub / "hub-50.key.pem", hub / "ca.cert.pem"),
    )
    await server.start()
    try:
        credentials = channel_credentials(
            station / "ca.cert.pem", station / "50-0042.cert.pem", station / "50-0042.key.pem"
        )
        async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
            await channel.unary_unary("/t.T/Who")(b"", timeout=5)
    finally:
        await server.stop(None)
    assert seen == ["50-0042"]


def test_issue_takes_repeated_subject_alt_names_and_days(tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    assert tongjian("pki", "init", "--out", str(ca)) == 0
    argv = ["pki", "issue", "--ca", str(ca), "--role", "hub", "--name", "hub", "--out", str(tmp_path)]
    argv += ["--dns", "hub.a.example", "--dns", "hub.b.example", "--ip", "10.0.0.1", "--days", "30"]
    assert tongjian(*argv) == 0
    cert = x509.load_pem_x509_certificate((tmp_path / "hub.cert.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["hub.a.example", "hub.b.example"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.0.0.1"]
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 30


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ip", "300.1.1.1"], "'300.1.1.1' is not an IPv4 or IPv6 address"),
        (["--dns", "bad_host"], "'bad_host' is not a valid host name"),
        (["--days", "0"], "days must be at least 1, not 0"),
    ],
)
def test_bad_issue_arguments_exit_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    ca = tmp_path / "ca"
    assert tongjian("pki", "init", "--out", str(ca)) == 0
    argv = ["pki", "issue", "--ca", str(ca), "--role", "hub", "--name", "hub", "--out", str(tmp_path / "o")]
    assert tongjian(*argv, *extra) == 2
    assert message in capsys.readouterr().err


def test_a_broken_ca_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = tmp_path / "ca"
    assert tongjian("pki", "init", "--out", str(ca)) == 0
    (ca / "ca.cert.pem").write_text("this is not a certificate\n")
    argv = ["pki", "issue", "--ca", str(ca), "--role", "station", "--name", "50-0001", "--out", str(tmp_path)]
    assert tongjian(*argv) == 2
    assert f"{ca / 'ca.cert.pem'}: no PEM certificate" in capsys.readouterr().err


def test_init_refuses_to_replace_a_ca_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = tmp_path / "ca"
    assert tongjian("pki", "init", "--out", str(ca)) == 0
    before = (ca / "ca.key.pem").read_bytes()
    assert tongjian("pki", "init", "--out", str(ca)) == 2
    assert f"{ca / 'ca.cert.pem'}: already exists" in capsys.readouterr().err
    assert (ca / "ca.key.pem").read_bytes() == before
    assert tongjian("pki", "init", "--out", str(ca), "--force") == 0
    assert (ca / "ca.key.pem").read_bytes() != before


def test_an_unknown_role_is_refused_by_the_parser(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tongjian",
            "pki",
            "issue",
            "--ca",
            "x",
            "--role",
            "janitor",
            "--name",
            "a",
            "--out",
            "o",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "invalid choice: 'janitor'" in result.stderr
