"""HTTPS in the compiled snapshot: SDS secrets with sealed keys, one TLS chain per certificate."""

from __future__ import annotations

import dataclasses

import pytest
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2, tls_pb2

from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import CertificateRow, GatewaySettings
from mgmt.compiler.tls import ALPN, HTTPS_LISTENER_NAME, secret_name, server_secret
from tests.mgmt.compiler_rows import demo_rows
from xds_server import sealing, type_urls
from xds_server.errors import InvalidSnapshot
from xds_server.snapshot import Snapshot
from xds_server.tls_secrets import open_secrets

KEY = sealing.parse_key(sealing.new_key_text())
GATEWAY = GatewaySettings(https_port=10443)
CLEAR_KEY = b"-----BEGIN PRIVATE KEY-----\nclear key bytes\n-----END PRIVATE KEY-----\n"


def cert(name: str, *hostnames: str) -> CertificateRow:
    return CertificateRow(
        name=name,
        hostnames=hostnames,
        chain_pem=f"-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n",
        sealed_key=sealing.seal(KEY, secret_name(name), CLEAR_KEY),
    )


def compiled(*certificates: CertificateRow, gateway: GatewaySettings = GATEWAY) -> Snapshot:
    rows = dataclasses.replace(demo_rows(), certificates=certificates)
    result = compile_snapshot(rows, gateway)
    assert result.snapshot is not None, result.errors
    return Snapshot.from_proto(result.snapshot)


def https_listener(snap: Snapshot) -> listener_pb2.Listener:
    listener = listener_pb2.Listener()
    listener.ParseFromString(snap.resources(type_urls.LISTENER)[HTTPS_LISTENER_NAME].value)
    return listener


def test_each_certificate_is_a_secret_whose_key_stays_sealed_in_the_snapshot() -> None:
    snap = compiled(cert("api", "api.example.com"), cert("www", "www.example.com"))
    assert sorted(snap.resources(type_urls.SECRET)) == ["tls/api", "tls/www"]
    payload = snap.to_bytes()
    assert CLEAR_KEY not in payload and b"clear key bytes" not in payload
    # xds_server opens them for Envoy, and only there.
    opened = open_secrets(snap, KEY)
    secret = secret_pb2.Secret()
    secret.ParseFromString(opened.resources(type_urls.SECRET)["tls/api"].value)
    assert secret.tls_certificate.private_key.inline_bytes == CLEAR_KEY
    assert "api" in secret.tls_certificate.certificate_chain.inline_string


def test_the_https_listener_picks_a_certificate_by_sni_and_the_oldest_for_no_sni() -> None:
    listener = https_listener(
        compiled(cert("api", "api.example.com", "*.api.example.com"), cert("www", "example.com"))
    )
    assert listener.address.socket_address.port_value == 10443
    assert [f.name for f in listener.listener_filters] == ["envoy.filters.listener.tls_inspector"]
    by_sni = {
        tuple(chain.filter_chain_match.server_names): chain for chain in listener.filter_chains
    }
    assert set(by_sni) == {("api.example.com", "*.api.example.com"), ("example.com",)}
    for names, chain in [*by_sni.items(), ((), listener.default_filter_chain)]:
        context = tls_pb2.DownstreamTlsContext()
        chain.transport_socket.typed_config.Unpack(context)
        sds = context.common_tls_context.tls_certificate_sds_secret_configs
        expected = "tls/www" if names == ("example.com",) else "tls/api"
        assert [s.name for s in sds] == [expected]
        assert sds[0].sds_config.HasField("ads")
        assert list(context.common_tls_context.alpn_protocols) == list(ALPN)
        # The same HTTP handling as the plain listener: one ext_authz decision per request.
        assert chain.filters[0].name == "envoy.filters.network.http_connection_manager"


def test_a_rotated_certificate_changes_its_secret_only() -> None:
    before = compiled(cert("api", "api.example.com"))
    rotated = dataclasses.replace(cert("api", "api.example.com"), chain_pem="new chain")
    after = compiled(rotated)
    assert after.type_version(type_urls.SECRET) != before.type_version(type_urls.SECRET)
    # No listener change: Envoy keeps its connections and presents the new one to new ones.
    assert after.type_version(type_urls.LISTENER) == before.type_version(type_urls.LISTENER)


def test_no_https_listener_without_a_port_or_a_certificate() -> None:
    for snap in (compiled(), compiled(cert("api", "a.example.com"), gateway=GatewaySettings())):
        assert list(snap.resources(type_urls.LISTENER)) == ["gateway"]
    assert compiled().has_type(type_urls.SECRET)  # served, empty


def test_a_hostname_on_two_certificates_is_refused_before_envoy() -> None:
    rows = dataclasses.replace(
        demo_rows(), certificates=(cert("a", "x.example.com"), cert("b", "x.example.com"))
    )
    result = compile_snapshot(rows, GATEWAY)
    assert result.snapshot is None
    assert result.errors == (
        'hostname "x.example.com" is on certificates "a" and "b": '
        "a hostname may be served by one certificate only",
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [(None, "no sealing key"), (sealing.parse_key(sealing.new_key_text()), "does not open")],
    ids=["no-key", "another-key"],
)
def test_a_snapshot_whose_keys_do_not_open_is_not_served(key: bytes | None, message: str) -> None:
    with pytest.raises(InvalidSnapshot, match=message):
        open_secrets(compiled(cert("api", "api.example.com")), key)


def test_a_snapshot_carrying_a_clear_key_is_not_served() -> None:
    clear = compiled(cert("api", "api.example.com")).to_proto()
    (secrets,) = [rs for rs in clear.sets if rs.type_url == type_urls.SECRET]
    secret = secret_pb2.Secret()
    secrets.resources[0].body.Unpack(secret)
    secret.tls_certificate.private_key.inline_bytes = CLEAR_KEY
    secrets.resources[0].body.Pack(secret)
    with pytest.raises(InvalidSnapshot, match="not sealed"):
        open_secrets(Snapshot.from_proto(clear), KEY)


def file_cert(
    name: str, *hostnames: str, directory: str = "/etc/tollgate/tls/api"
) -> CertificateRow:
    return CertificateRow(
        name=name,
        hostnames=hostnames,
        chain_pem="",
        sealed_key=b"",
        chain_file=f"{directory}/tls.crt",
        key_file=f"{directory}/tls.key",
    )


def test_a_certificate_in_files_names_them_and_watches_their_directory() -> None:
    snap = compiled(file_cert("api", "api.example.com"), cert("www", "www.example.com"))
    secret = secret_pb2.Secret()
    secret.ParseFromString(snap.resources(type_urls.SECRET)["tls/api"].value)
    chain, key = secret.tls_certificate.certificate_chain, secret.tls_certificate.private_key
    assert chain.filename == "/etc/tollgate/tls/api/tls.crt"
    assert key.filename == "/etc/tollgate/tls/api/tls.key"
    assert secret.tls_certificate.watched_directory.path == "/etc/tollgate/tls/api"
    # The listener names it as any other certificate: by SNI, over SDS.
    names = {tuple(c.filter_chain_match.server_names) for c in https_listener(snap).filter_chains}
    assert ("api.example.com",) in names
    # xds_server passes a key file through (not a clear key: it is not in the snapshot), and
    # still opens the sealed ones beside it.
    opened = open_secrets(snap, KEY)
    assert (
        opened.resources(type_urls.SECRET)["tls/api"] == snap.resources(type_urls.SECRET)["tls/api"]
    )
    www = secret_pb2.Secret()
    www.ParseFromString(opened.resources(type_urls.SECRET)["tls/www"].value)
    assert www.tls_certificate.private_key.inline_bytes == CLEAR_KEY


def test_files_in_two_directories_are_left_to_envoys_own_watches() -> None:
    row = dataclasses.replace(file_cert("api", "api.example.com"), key_file="/etc/keys/api.key")
    secret = server_secret(row)
    assert not secret.tls_certificate.HasField("watched_directory")


def test_a_snapshot_carrying_a_clear_key_as_a_string_is_not_served() -> None:
    clear = compiled(file_cert("api", "api.example.com")).to_proto()
    (secrets,) = [rs for rs in clear.sets if rs.type_url == type_urls.SECRET]
    secret = secret_pb2.Secret()
    secrets.resources[0].body.Unpack(secret)
    secret.tls_certificate.private_key.inline_string = CLEAR_KEY.decode()
    secrets.resources[0].body.Pack(secret)
    with pytest.raises(InvalidSnapshot, match="not sealed"):
        open_secrets(Snapshot.from_proto(clear), KEY)
