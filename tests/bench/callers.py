"""The callers a bench pipeline serves besides a plain key: a bearer token of Tollgate's own
issuer (ES256 at+jwt, verified by Envoy's jwt_authn, mapped by the sidecar), and HTTPS with a
key or with a registered client certificate (mTLS). Each adds its rows to the catalog and
says what the load tool sends."""

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mgmt.compiler.inputs import (
    CertificateRow,
    ClientCertificateRow,
    Rows,
    TokenClientRow,
    TokenIssuerRow,
)
from mgmt.compiler.tls import secret_name
from mgmt.oauth import jose
from mgmt.tls.local_ca import issue_server_certificate, new_local_ca
from tests.identity.material import certificate, der_sha256, ec_key, pem, private_key_pem
from xds_server import sealing

KEY, JWT, HTTPS_KEY, MTLS = "key", "jwt", "https key", "mtls"
ISSUER = "https://tollgate.bench/oauth"
AUDIENCE = "tollgate-gateway"
CLIENT_ID = "tgc_bench"
HOST = "api.bench.test"


def with_token(rows: Rows) -> tuple[Rows, dict[str, str]]:
    """Tollgate's issuer with one ES256 key inline, its client acting as application 1, and
    one token for the whole run (jwt_authn remembers verified tokens: a caller reuses its)."""
    private_key = jose.new_private_key()
    jwk = jose.public_jwk(private_key.public_key())
    kid = jose.thumbprint(jwk)
    issuer = TokenIssuerRow(
        name="tollgate",
        issuer=ISSUER,
        audiences=(AUDIENCE,),
        jwks_json=jose.jwks_document([jose.published_jwk(jwk, kid)]),
        algorithms=("ES256",),
        client_claims=("client_id",),
        every_api=True,
    )
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": CLIENT_ID,
        "client_id": CLIENT_ID,
        "iat": now,
        "exp": now + 86_400,
    }
    token = jose.sign_jwt(private_key, kid=kid, claims=claims)
    rows = dataclasses.replace(
        rows,
        token_issuers=(issuer,),
        token_clients=(TokenClientRow(ISSUER, CLIENT_ID, 1),),
    )
    return rows, {"authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class HttpsFiles:
    sealing_key: Path  # xds_server opens the server certificate's key with it
    ca_file: Path  # the load tool trusts the gateway's certificate with it
    client_cert: tuple[Path, Path] | None  # certificate and key files, for mTLS


def with_https(rows: Rows, run_dir: Path, *, client_certificate: bool) -> tuple[Rows, HttpsFiles]:
    """A server certificate for HOST from a local CA, sealed as mgmt seals it; with
    `client_certificate`, a self-signed client certificate registered to application 1."""
    now = datetime.now(UTC)
    ca = new_local_ca(now=now)
    chain, key = issue_server_certificate(ca, [HOST], now=now)
    sealing_key = run_dir / "secrets.key"
    sealing_key.write_text(sealing.new_key_text())
    opener = sealing.parse_key(sealing_key.read_text())
    sealed = sealing.seal(opener, secret_name("bench"), key.encode())
    ca_file = run_dir / "ca.pem"
    ca_file.write_text(ca.cert_pem)
    rows = dataclasses.replace(
        rows, certificates=(CertificateRow("bench", (HOST,), chain, sealed),)
    )
    if not client_certificate:
        return rows, HttpsFiles(sealing_key, ca_file, None)
    client_key = ec_key()
    client = certificate(now=now, key=client_key, common_name="bench.partner.example")
    cert_file, key_file = run_dir / "client.pem", run_dir / "client.key"
    cert_file.write_text(pem(client))
    key_file.write_text(private_key_pem(client_key))
    rows = dataclasses.replace(
        rows, client_certificates=(ClientCertificateRow(der_sha256(client), 1),)
    )
    return rows, HttpsFiles(sealing_key, ca_file, (cert_file, key_file))
