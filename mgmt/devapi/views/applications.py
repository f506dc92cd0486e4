"""/orgs/{org}/applications and their API keys."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response

from mgmt.devapi.serializers import access as s
from mgmt.devapi.throttles import (
    ApplicationCreationThrottle,
    ApplicationDeletionThrottle,
    KeyCreationThrottle,
)
from mgmt.devapi.views.common import (
    OrgScopedView,
    application_of,
    documented,
    member_of,
    output,
    page,
    valid,
    write_action,
)
from mgmt.developers import access, selectors
from mgmt.developers.roles import Action
from mgmt.gateway.services import IssuedApiKey

# The secret is in the body once; no cache on the way may keep it.
NO_STORE = {"Cache-Control": "no-store"}


class ApplicationListView(OrgScopedView):
    def get_throttles(self) -> list[Any]:
        # Each new application is a new snapshot for every gateway: a budget per account.
        return [ApplicationCreationThrottle()] if self.request.method == "POST" else []

    @documented(
        "Applications",
        "Your organization's applications: each holds API keys and subscriptions.",
        responses=s.ApplicationOutput(many=True),
    )
    def get(self, request: Request, org: str) -> Response:
        membership = member_of(request, org)
        rows = selectors.applications(membership.organization_id)
        return page(self, request, rows, s.ApplicationOutput)

    @documented(
        "Create an application",
        "Owners and developers. Names are unique within the organization (any case).",
        request=s.ApplicationInput,
        responses={201: s.ApplicationOutput},
    )
    def post(self, request: Request, org: str) -> Response:
        membership = member_of(request, org, write_action(request, Action.MANAGE_APPLICATIONS))
        data = valid(s.ApplicationInput, request)
        created = access.create_application(organization=membership.organization, **data)
        return output(s.ApplicationOutput, created, status=201)


class ApplicationDetailView(OrgScopedView):
    def get_throttles(self) -> list[Any]:
        return [ApplicationDeletionThrottle()] if self.request.method == "DELETE" else []

    @documented(
        "An application", "One of your organization's applications.", responses=s.ApplicationOutput
    )
    def get(self, request: Request, org: str, app: str) -> Response:
        return output(s.ApplicationOutput, application_of(request, org, app))

    @documented(
        "Change an application",
        "Owners and developers: its name, description or contact address.",
        request=s.ApplicationUpdateInput,
        responses=s.ApplicationOutput,
    )
    def patch(self, request: Request, org: str, app: str) -> Response:
        found = application_of(request, org, app)
        data = valid(s.ApplicationUpdateInput, request)
        changed = access.update_application(application=found, **data)
        return output(s.ApplicationOutput, changed)

    @documented(
        "Delete an application",
        "Owners and developers. Its keys stop working and its subscriptions end at once.",
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request: Request, org: str, app: str) -> Response:
        access.delete_application(application=application_of(request, org, app))
        return Response(status=204)


def _issued(issued: IssuedApiKey) -> dict[str, object]:
    body = dict(s.KeyOutput(issued.api_key).data)
    body["key"] = issued.secret
    return body


class KeyListView(OrgScopedView):
    throttle_classes = [KeyCreationThrottle]

    @documented(
        "API keys",
        "The application's keys: id, prefix, label, state and dates, never the secret.",
        responses=s.KeyOutput(many=True),
    )
    def get(self, request: Request, org: str, app: str) -> Response:
        rows = selectors.keys(application_of(request, org, app)).select_related("rotated_from")
        return page(self, request, rows, s.KeyOutput)

    @documented(
        "Create an API key",
        "Owners and developers. The secret (`key`) is in this answer only: store it now. "
        "Send it to the gateway as the x-api-key header or `Authorization: Bearer`. It "
        "works within seconds, for the products the application is subscribed to.",
        request=s.KeyInput,
        responses={201: s.IssuedKeyOutput},
    )
    def post(self, request: Request, org: str, app: str) -> Response:
        found = application_of(request, org, app)
        data = valid(s.KeyInput, request)
        issued = access.issue_key(application=found, **data)
        return Response(_issued(issued), status=201, headers=NO_STORE)


class KeyDetailView(OrgScopedView):
    @documented("An API key", "One key's metadata, never its secret.", responses=s.KeyOutput)
    def get(self, request: Request, org: str, app: str, key_id: str) -> Response:
        return output(s.KeyOutput, selectors.key(application_of(request, org, app), key_id))

    @documented(
        "Revoke an API key",
        "Owners and developers. The gateway refuses the key within two seconds (401). "
        "Revocation is never undone; revoking twice is harmless.",
        responses={204: OpenApiResponse(description="Revoked.")},
    )
    def delete(self, request: Request, org: str, app: str, key_id: str) -> Response:
        access.revoke_key(api_key=selectors.key(application_of(request, org, app), key_id))
        return Response(status=204)


class KeyRotateView(OrgScopedView):
    throttle_classes = [KeyCreationThrottle]

    @documented(
        "Rotate an API key",
        "Owners and developers. Issues a new key (its secret in this answer only) and lets "
        "the old one keep working for overlap_seconds (up to 30 days), after which the "
        "gateway refuses it as expired. Roll the new key out within the overlap.",
        request=s.RotateInput,
        responses={201: s.RotatedKeyOutput},
    )
    def post(self, request: Request, org: str, app: str, key_id: str) -> Response:
        old = selectors.key(application_of(request, org, app), key_id)
        data = valid(s.RotateInput, request)
        issued = access.rotate_key(api_key=old, **data)
        old.refresh_from_db()
        body = _issued(issued)
        body["previous"] = s.KeyOutput(old).data
        return Response(body, status=201, headers=NO_STORE)
