"""/orgs/{org}/applications/{app}/client-certificates and /token-clients: a partner
registers and revokes their application's mTLS certificates, and sees which token issuers'
clients the API owners mapped to it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response

from mgmt.devapi.throttles import KeyCreationThrottle
from mgmt.devapi.views.common import OrgScopedView, application_of, documented, output, page, valid
from mgmt.identity import devapi_serializers as s
from mgmt.identity import selectors, services


class ClientCertificateListView(OrgScopedView):
    # Each registration is a new snapshot for every gateway: the key budget covers both.
    throttle_classes = [KeyCreationThrottle]

    @documented(
        "Client certificates",
        "The application's client certificates (mTLS): fingerprint, subject, expiry, state.",
        responses=s.ClientCertificateOutput(many=True),
    )
    def get(self, request: Request, org: str, app: str) -> Response:
        rows = selectors.client_certificates(application_of(request, org, app))
        return page(self, request, rows, s.ClientCertificateOutput)

    @documented(
        "Register a client certificate",
        "Owners and developers. Give the certificate (PEM) or its SHA-256 fingerprint. The "
        "gateway identifies the application by it within seconds, on the mTLS listener. A "
        "certificate registered (and not revoked) to any application is refused.",
        request=s.ClientCertificateInput,
        responses={201: s.ClientCertificateOutput},
    )
    def post(self, request: Request, org: str, app: str) -> Response:
        found = application_of(request, org, app)
        data = valid(s.ClientCertificateInput, request)
        created = services.register_client_certificate(application=found, **data)
        return output(s.ClientCertificateOutput, created, status=201)


class ClientCertificateDetailView(OrgScopedView):
    @documented(
        "A client certificate", "One of the application's.", responses=s.ClientCertificateOutput
    )
    def get(self, request: Request, org: str, app: str, certificate_id: int) -> Response:
        found = selectors.client_certificate(application_of(request, org, app), certificate_id)
        return output(s.ClientCertificateOutput, found)

    @documented(
        "Revoke a client certificate",
        "Owners and developers. The gateway refuses it within two seconds. Revocation is "
        "never undone; revoking twice is harmless.",
        responses={204: OpenApiResponse(description="Revoked.")},
    )
    def delete(self, request: Request, org: str, app: str, certificate_id: int) -> Response:
        found = selectors.client_certificate(application_of(request, org, app), certificate_id)
        services.revoke_client_certificate(certificate=found)
        return Response(status=204)


class TokenClientListView(OrgScopedView):
    @documented(
        "Token clients",
        "The token issuers' clients that act as this application: a JWT access token from "
        "that issuer naming that client (azp / client_id) calls as the application. Set up "
        "by the API owners.",
        responses=s.TokenClientOutput(many=True),
    )
    def get(self, request: Request, org: str, app: str) -> Response:
        rows = selectors.token_clients(application_of(request, org, app))
        return page(self, request, rows, s.TokenClientOutput)
