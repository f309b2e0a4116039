"""The dev CA: what it issues verifies as a chain for its role only, with the profile the hub relies on."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    DNSName,
    ExtensionPolicy,
    IPAddress,
    PolicyBuilder,
    Store,
    VerificationError,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pki.authority import Role, init_ca, issue
from pki.errors import InvalidCertificateRequest
from pki.pem_files import Pem, PkiError, parse_certificates, parse_private_key


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def store_of(dev_pki) -> Store:  # type: ignore[no-untyped-def]
    return Store([load(dev_pki.ca.cert_path)])


def client_verifier(dev_pki):  # type: ignore[no-untyped-def]
    """A client-certificate verifier that, unlike the WebPKI profile, does not demand a subjectAltName:
    our client certificates name their holder in the CN, which is what gRPC reports to the hub."""
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
    )
    return (
        PolicyBuilder()
        .store(store_of(dev_pki))
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy)
        .build_client_verifier()
    )


def subject(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in cert.subject.get_attributes_for_oid(oid)]


def test_the_ca_is_a_self_signed_root_that_signs_only_end_entities(dev_pki) -> None:  # type: ignore[no-untyped-def]
    ca = load(dev_pki.ca.cert_path)
    assert ca.issuer == ca.subject
    ca.verify_directly_issued_by(ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]


def test_private_keys_are_readable_by_their_owner_only(dev_pki) -> None:  # type: ignore[no-untyped-def]
    for path in (
        dev_pki.ca.key_path,
        dev_pki.hub.key_path,
        dev_pki.station.key_path,
        dev_pki.person.key_path,
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(dev_pki.station.cert_path.stat().st_mode) & 0o044  # certificates are public


def test_a_station_certificate_verifies_as_a_client_named_by_its_station_id(dev_pki) -> None:  # type: ignore[no-untyped-def]
    cert = load(dev_pki.station.cert_path)
    verifier = client_verifier(dev_pki)
    verified = verifier.verify(cert, [])
    assert verified.chain[-1] == load(dev_pki.ca.cert_path)
    assert subject(cert, NameOID.COMMON_NAME) == [dev_pki.station_id]
    assert subject(cert, NameOID.ORGANIZATIONAL_UNIT_NAME) == ["station"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    # The station certificate's key is the one written beside it.
    key = parse_private_key(Pem(dev_pki.station.key_path.read_bytes(), "station key"))
    assert key.public_key() == cert.public_key()


def test_a_person_certificate_is_a_client_certificate_with_ou_person(dev_pki) -> None:  # type: ignore[no-untyped-def]
    cert = load(dev_pki.person.cert_path)
    client_verifier(dev_pki).verify(cert, [])
    assert subject(cert, NameOID.COMMON_NAME) == [dev_pki.person_id]
    assert subject(cert, NameOID.ORGANIZATIONAL_UNIT_NAME) == ["person"]


def test_a_hub_certificate_verifies_as_a_server_for_localhost_and_127_0_0_1(dev_pki) -> None:  # type: ignore[no-untyped-def]
    cert = load(dev_pki.hub.cert_path)
    for name in (DNSName("localhost"), IPAddress(ipaddress.ip_address("127.0.0.1"))):
        PolicyBuilder().store(store_of(dev_pki)).build_server_verifier(name).verify(cert, [])
    with pytest.raises(VerificationError):
        PolicyBuilder().store(store_of(dev_pki)).build_server_verifier(DNSName("hub.example.org")).verify(
            cert, []
        )
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_client_certificates_do_not_pass_as_servers_nor_the_hub_as_a_client(dev_pki) -> None:  # type: ignore[no-untyped-def]
    server = PolicyBuilder().store(store_of(dev_pki)).build_server_verifier(DNSName("localhost"))
    with pytest.raises(VerificationError):
        server.verify(load(dev_pki.station.cert_path), [])
    client = client_verifier(dev_pki)
    with pytest.raises(VerificationError):
        client.verify(load(dev_pki.hub.cert_path), [])


def test_certificates_of_another_ca_do_not_verify(dev_pki, foreign_pki) -> None:  # type: ignore[no-untyped-def]
    client = client_verifier(dev_pki)
    with pytest.raises(VerificationError):
        client.verify(load(foreign_pki.station.cert_path), [])


def test_the_ca_certificate_is_copied_beside_every_issued_certificate(dev_pki) -> None:  # type: ignore[no-untyped-def]
    for issued in (dev_pki.hub, dev_pki.station, dev_pki.person):
        assert issued.ca_cert_path.read_bytes() == dev_pki.ca.cert_path.read_bytes()
        assert issued.ca_cert_path.parent == issued.cert_path.parent


def test_explicit_subject_alt_names_replace_the_hub_defaults(dev_pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = issue(
        dev_pki.ca.cert_path.parent,
        Role.HUB,
        "hub-50-b",
        tmp_path,
        dns_names=["hub.cq.example"],
        ip_addresses=["10.1.2.3", "::1"],
    )
    names = load(files.cert_path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["hub.cq.example"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.1.2.3"),
        ipaddress.ip_address("::1"),
    ]


def test_a_certificate_does_not_outlive_its_ca(tmp_path: Path) -> None:
    ca = init_ca(tmp_path / "ca", "Short-lived CA", days=30)
    files = issue(tmp_path / "ca", Role.STATION, "50-0002", tmp_path / "s", days=3650)
    assert load(files.cert_path).not_valid_after_utc == load(ca.cert_path).not_valid_after_utc
    default = issue(tmp_path / "ca", Role.STATION, "50-0003", tmp_path / "s", days=7)
    lifetime = load(default.cert_path).not_valid_after_utc - datetime.now(UTC)
    assert timedelta(days=6) < lifetime <= timedelta(days=7)


def test_existing_files_are_not_replaced_without_force(dev_pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ca_dir = dev_pki.ca.cert_path.parent
    first = issue(ca_dir, Role.STATION, "50-0009", tmp_path)
    before = first.cert_path.read_bytes()
    with pytest.raises(PkiError) as refused:
        issue(ca_dir, Role.STATION, "50-0009", tmp_path)
    assert refused.value.path == str(first.cert_path) and "already exists" in refused.value.reason
    issue(ca_dir, Role.STATION, "50-0009", tmp_path, force=True)
    assert first.cert_path.read_bytes() != before
    with pytest.raises(PkiError, match="already exists"):
        init_ca(ca_dir)


def test_issuing_from_a_directory_without_a_ca_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PkiError) as missing:
        issue(tmp_path / "nowhere", Role.STATION, "50-0001", tmp_path / "out")
    assert missing.value.path == str(tmp_path / "nowhere" / "ca.cert.pem")
    assert "cannot read" in missing.value.reason


def test_issuing_from_a_leaf_certificate_is_refused(dev_pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake_ca = tmp_path / "fake-ca"
    fake_ca.mkdir()
    (fake_ca / "ca.cert.pem").write_bytes(dev_pki.station.cert_path.read_bytes())
    (fake_ca / "ca.key.pem").write_bytes(dev_pki.station.key_path.read_bytes())
    with pytest.raises(PkiError, match="not a CA certificate"):
        issue(fake_ca, Role.STATION, "50-0002", tmp_path / "out")


def test_a_ca_key_of_another_ca_is_refused(dev_pki, foreign_pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "ca.cert.pem").write_bytes(dev_pki.ca.cert_path.read_bytes())
    (mixed / "ca.key.pem").write_bytes(foreign_pki.ca.key_path.read_bytes())
    with pytest.raises(PkiError) as refused:
        issue(mixed, Role.STATION, "50-0002", tmp_path / "out")
    assert refused.value.path == str(mixed / "ca.key.pem")
    assert "does not belong" in refused.value.reason


@pytest.mark.parametrize(
    ("name", "dns", "ips", "message"),
    [
        ("", (), (), "1 to 64 bytes in UTF-8"),
        ("..", (), (), "1 to 64 bytes in UTF-8"),
        ("x" * 65, (), (), "1 to 64 bytes in UTF-8"),
        ("检" * 22, (), (), "1 to 64 bytes in UTF-8"),
        ("../50-0001", (), (), "path separators"),
        ("50-0001\n", (), (), "control characters"),
        (" 50-0001", (), (), "outer spaces"),
        ("hub", ("bad host!",), (), "'bad host!' is not a valid host name"),
        ("hub", ("a..b",), (), "not a valid host name"),
        ("hub", (), ("127.0.0.256",), "'127.0.0.256' is not an IPv4 or IPv6 address"),
    ],
)
def test_bad_names_and_addresses_are_refused_with_the_value(  # type: ignore[no-untyped-def]
    dev_pki, tmp_path: Path, name: str, dns: tuple[str, ...], ips: tuple[str, ...], message: str
) -> None:
    with pytest.raises(InvalidCertificateRequest) as refused:
        issue(dev_pki.ca.cert_path.parent, Role.HUB, name, tmp_path, dns_names=dns, ip_addresses=ips)
    assert message in str(refused.value)
    assert not list(tmp_path.iterdir())


def test_days_must_be_positive(dev_pki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidCertificateRequest, match="days must be at least 1, not 0"):
        issue(dev_pki.ca.cert_path.parent, Role.STATION, "50-0001", tmp_path, days=0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=70))
def test_any_name_is_either_the_exact_cn_inside_the_out_dir_or_refused(  # type: ignore[no-untyped-def]
    dev_pki, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "out"
    try:
        files = issue(dev_pki.ca.cert_path.parent, Role.STATION, name, out, force=True)
    except InvalidCertificateRequest as error:
        assert repr(name) in str(error)
        return
    assert files.cert_path.parent == out and files.key_path.parent == out
    assert subject(load(files.cert_path), NameOID.COMMON_NAME) == [name]


@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=200).map(
            lambda b: b"-----BEGIN CERTIFICATE-----\n" + b + b"\n-----END CERTIFICATE-----\n"
        ),
        st.binary(max_size=200).map(
            lambda b: b"-----BEGIN PRIVATE KEY-----\n" + b + b"\n-----END PRIVATE KEY-----\n"
        ),
    )
)
def test_pem_parsing_of_arbitrary_bytes_fails_only_with_pki_error_naming_the_source(data: bytes) -> None:
    pem = Pem(data, "fuzz.pem")
    for parse in (parse_certificates, parse_private_key):
        try:
            parse(pem)
        except PkiError as error:
            assert error.path == "fuzz.pem" and error.reason


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_every_role_is_issued_and_read_back_from_the_subject_ou(tmp_path, role: Role) -> None:  # type: ignore[no-untyped-def]
    from cryptography import x509

    from pki.roles import certificate_role

    init_ca(tmp_path / "ca")
    files = issue(tmp_path / "ca", role, "50-0001", tmp_path / "out")
    certificate = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    assert certificate_role(certificate) is role


def test_a_certificate_without_a_role_names_what_is_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cryptography import x509

    from pki.errors import CertificateRoleError
    from pki.roles import certificate_role

    files = init_ca(tmp_path / "ca")  # the CA's own subject has no OU
    certificate = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    with pytest.raises(CertificateRoleError, match="0 OUs"):
        certificate_role(certificate)
