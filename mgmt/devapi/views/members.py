"""/orgs/{org}, its members and invitations: owners manage them, everyone sees them."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from mgmt.devapi.serializers import accounts as s
from mgmt.devapi.views.common import (
    OrgScopedView,
    documented,
    member_of,
    output,
    page,
    user_of,
    valid,
    write_action,
)
from mgmt.developers import accounts, selectors
from mgmt.developers.roles import Action


class OrganizationOutput(serializers.Serializer[object]):
    slug = serializers.CharField(source="organization.slug")
    name = serializers.CharField(source="organization.name")
    contact_email = serializers.CharField(source="organization.contact_email")
    role = serializers.CharField(help_text="Your role in it.")


class OrganizationView(OrgScopedView):
    @documented(
        "An organization",
        "An organization you belong to, and your role in it.",
        responses=OrganizationOutput,
    )
    def get(self, request: Request, org: str) -> Response:
        return output(OrganizationOutput, member_of(request, org))


class MemberListView(OrgScopedView):
    @documented(
        "Members",
        "The organization's members and their roles.",
        responses=s.MemberOutput(many=True),
    )
    def get(self, request: Request, org: str) -> Response:
        membership = member_of(request, org)
        return page(self, request, selectors.members(membership.organization_id), s.MemberOutput)


class MemberDetailView(OrgScopedView):
    @documented("A member", "One member of the organization.", responses=s.MemberOutput)
    def get(self, request: Request, org: str, member_id: int) -> Response:
        membership = member_of(request, org)
        return output(s.MemberOutput, selectors.member(membership.organization_id, member_id))

    @documented(
        "Change a member's role",
        "Owners only. An organization always keeps at least one owner.",
        request=s.RoleInput,
        responses=s.MemberOutput,
    )
    def patch(self, request: Request, org: str, member_id: int) -> Response:
        membership = member_of(request, org, Action.MANAGE_MEMBERS)
        target = selectors.member(membership.organization_id, member_id)
        data = valid(s.RoleInput, request)
        changed = accounts.change_role(membership=target, role=data["role"])
        return output(s.MemberOutput, changed)

    @documented(
        "Remove a member",
        "Owners remove anyone; any member may remove themselves (leave). The last owner "
        "stays until another owner is named.",
        responses={204: OpenApiResponse(description="Removed.")},
    )
    def delete(self, request: Request, org: str, member_id: int) -> Response:
        mine = member_of(request, org)
        target = selectors.member(mine.organization_id, member_id)
        if target.user_id != user_of(request).pk:
            member_of(request, org, Action.MANAGE_MEMBERS)
        accounts.remove_member(membership=target)
        return Response(status=204)


class InvitationListView(OrgScopedView):
    @documented(
        "Invitations",
        "Invitations sent for the organization, open or not.",
        responses=s.InvitationOutput(many=True),
    )
    def get(self, request: Request, org: str) -> Response:
        membership = member_of(request, org)
        rows = selectors.invitations(membership.organization_id)
        return page(self, request, rows, s.InvitationOutput)

    @documented(
        "Invite a teammate",
        "Owners only. Mails the address a link to join in the given role (owner, developer "
        "or billing); it is valid for 7 days and once.",
        request=s.InvitationInput,
        responses={201: s.InvitationOutput},
    )
    def post(self, request: Request, org: str) -> Response:
        membership = member_of(request, org, write_action(request, Action.MANAGE_MEMBERS))
        data = valid(s.InvitationInput, request)
        issued = accounts.invite(organization=membership.organization, by=user_of(request), **data)
        return output(s.InvitationOutput, issued.invitation, status=201)


class InvitationDetailView(OrgScopedView):
    @documented(
        "An invitation", "One invitation of the organization.", responses=s.InvitationOutput
    )
    def get(self, request: Request, org: str, invitation_id: int) -> Response:
        membership = member_of(request, org)
        found = selectors.invitation(membership.organization_id, invitation_id)
        return output(s.InvitationOutput, found)

    @documented(
        "Revoke an invitation",
        "Owners only. The link stops working; an accepted invitation stays accepted.",
        responses={204: OpenApiResponse(description="Revoked.")},
    )
    def delete(self, request: Request, org: str, invitation_id: int) -> Response:
        membership = member_of(request, org, Action.MANAGE_MEMBERS)
        accounts.revoke_invitation(
            invitation=selectors.invitation(membership.organization_id, invitation_id)
        )
        return Response(status=204)
