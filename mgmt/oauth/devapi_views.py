"""/orgs/{org}/applications/{app}/oauth-client: a partner creates their application's OAuth
client (client credentials grant at /oauth/token), rotates and revokes its secrets, and
revokes it. Secrets are in an answer once, never again."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response

from mgmt.devapi.throttles import KeyCreationThrottle
from mgmt.devapi.views.common import OrgScopedView, application_of, documented, output, valid
from mgmt.oauth import devapi_serializers as s
from mgmt.oauth import selectors, services

# The secret is in the body once; no cache on the way may keep it.
NO_STORE = {"Cache-Control": "no-store"}


def _issued(issued: services.IssuedSecret) -> dict[str, object]:
    body = dict(s.SecretOutput(issued.row).data)
    body["client_secret"] = issued.secret
    return body


class ClientView(OrgScopedView):
    # Each new client is a new snapshot, and each secret a credential: the key budget.
    throttle_classes = [KeyCreationThrottle]

    @documented(
        "The OAuth client",
        "The application's client id and its secrets (prefix, state, dates), never a secret.",
        responses=s.ClientOutput,
    )
    def get(self, request: Request, org: str, app: str) -> Response:
        return output(s.ClientOutput, selectors.open_client(application_of(request, org, app)))

    @documented(
        "Create the OAuth client",
        "Owners and developers. Returns the client id and its first secret (`client_secret`, "
        "in this answer only). Exchange them at the token endpoint (client credentials grant, "
        "HTTP Basic or form body) for access tokens the gateway accepts as this application.",
        responses={201: s.CreatedClientOutput},
    )
    def post(self, request: Request, org: str, app: str) -> Response:
        created = services.create_client(application=application_of(request, org, app))
        body = dict(s.ClientOutput(created.client).data)
        body["client_secret"] = created.secret.secret
        return Response(body, status=201, headers=NO_STORE)

    @documented(
        "Revoke the OAuth client",
        "Owners and developers. No new tokens at once; the gateway refuses its live tokens "
        "within seconds. Never undone; a new client can be created afterwards.",
        responses={204: OpenApiResponse(description="Revoked.")},
    )
    def delete(self, request: Request, org: str, app: str) -> Response:
        services.revoke_client(client=selectors.open_client(application_of(request, org, app)))
        return Response(status=204)


class SecretListView(OrgScopedView):
    throttle_classes = [KeyCreationThrottle]

    @documented(
        "Add a client secret",
        "Owners and developers. A further secret (at most 5 working), in this answer only.",
        responses={201: s.IssuedSecretOutput},
    )
    def post(self, request: Request, org: str, app: str) -> Response:
        client = selectors.open_client(application_of(request, org, app))
        issued = services.issue_secret(client=client)
        return Response(_issued(issued), status=201, headers=NO_STORE)


class SecretDetailView(OrgScopedView):
    @documented(
        "Revoke a client secret",
        "Owners and developers. Refused at the token endpoint at once; tokens it obtained "
        "live out their lifetime. Revoking twice is harmless.",
        responses={204: OpenApiResponse(description="Revoked.")},
    )
    def delete(self, request: Request, org: str, app: str, secret_id: str) -> Response:
        client = selectors.open_client(application_of(request, org, app))
        services.revoke_secret(secret=selectors.client_secret(client, secret_id))
        return Response(status=204)


class SecretRotateView(OrgScopedView):
    throttle_classes = [KeyCreationThrottle]

    @documented(
        "Rotate a client secret",
        "Owners and developers. Issues a new secret (in this answer only) and lets the old "
        "one keep working for overlap_seconds (up to 30 days). Roll the new one out within.",
        request=s.RotateSecretInput,
        responses={201: s.RotatedSecretOutput},
    )
    def post(self, request: Request, org: str, app: str, secret_id: str) -> Response:
        client = selectors.open_client(application_of(request, org, app))
        old = selectors.client_secret(client, secret_id)
        data = valid(s.RotateSecretInput, request)
        issued = services.rotate_secret(secret=old, **data)
        old.refresh_from_db()
        body = _issued(issued)
        body["previous"] = s.SecretOutput(old).data
        return Response(body, status=201, headers=NO_STORE)
