"""/auth/…, /me and /invitations/accept: who the caller is and how they get in."""

from datetime import timedelta
from typing import Any

from django.contrib.auth import login, logout
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mgmt.devapi.pagination import Pagination
from mgmt.devapi.serializers import accounts as s
from mgmt.devapi.throttles import LoginThrottle, SignUpThrottle
from mgmt.devapi.views.common import documented, output, page, user_of, valid
from mgmt.developers import accounts, selectors
from mgmt.gateway.models import DeveloperAccount


def _me(request: Request) -> dict[str, Any]:
    user = user_of(request)
    account = DeveloperAccount.objects.filter(user=user).first()
    return {
        "email": user.email,
        "first_name": user.first_name,
        "email_verified": bool(account and account.email_verified),
        "organizations": selectors.memberships_of(user),
    }


class _AnonymousDoor(APIView):
    """For callers without an account yet: no credentials read, each door throttled."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []


class SignUpView(_AnonymousDoor):
    throttle_classes = [SignUpThrottle]

    @documented(
        "Sign up",
        "Creates an account and an organization it owns, and mails a link to verify the "
        "address (log-in waits for it). With an invitation_token the account joins the "
        "inviting organization instead, already verified. Passwords pass Django's validators.",
        request=s.SignUpInput,
        responses={201: s.SignedUpOutput},
    )
    def post(self, request: Request) -> Response:
        data = valid(s.SignUpInput, request)
        signed_up = accounts.sign_up(**data)
        detail = (
            "Welcome: you can log in now."
            if signed_up.verified
            else "Check your mail: follow the link to verify your address, then log in."
        )
        body = {
            "email": signed_up.user.email,
            "email_verified": signed_up.verified,
            "organization": signed_up.organization,
            "detail": detail,
        }
        return output(s.SignedUpOutput, body, status=201)


class VerifyEmailView(_AnonymousDoor):
    throttle_classes = [LoginThrottle]

    @documented(
        "Verify an email address",
        "Confirms the address with the token from the verification mail. Using a token "
        "twice is harmless; an expired one asks for a new mail.",
        request=s.TokenInput,
        responses={200: s.SignedUpOutput},
    )
    def post(self, request: Request) -> Response:
        data = valid(s.TokenInput, request)
        user = accounts.verify_email(token=data["token"])
        body = {
            "email": user.email,
            "email_verified": True,
            "organization": None,
            "detail": "Your address is verified: log in.",
        }
        return output(s.SignedUpOutput, body)


class ResendVerificationView(_AnonymousDoor):
    throttle_classes = [SignUpThrottle]

    @documented(
        "Mail a new verification link",
        "Mails a new link if the address has an account still unverified. The answer is "
        "the same either way, so it tells no one which addresses have accounts.",
        request=s.EmailInput,
        responses={202: OpenApiResponse(s.DetailOutput, description="A mail may follow.")},
    )
    def post(self, request: Request) -> Response:
        data = valid(s.EmailInput, request)
        accounts.resend_verification(email=data["email"])
        return Response(
            {"detail": "If that address has an unverified account, a mail is on its way."},
            status=202,
        )


class PasswordResetRequestView(_AnonymousDoor):
    throttle_classes = [SignUpThrottle]  # it sends mail, like sign-up

    @documented(
        "Ask for a password reset",
        "Mails a link to set a new password if the address has a verified account. The "
        "answer is the same either way. The link (/portal/password-reset/confirm#{code}) "
        "works once, for two hours; the mail gives its code too.",
        request=s.EmailInput,
        responses={202: OpenApiResponse(s.DetailOutput, description="A mail may follow.")},
    )
    def post(self, request: Request) -> Response:
        data = valid(s.EmailInput, request)
        accounts.request_password_reset(email=data["email"])
        detail = "If that address has an account, a mail with a reset link is on its way."
        return Response({"detail": detail}, status=202)


class PasswordResetView(_AnonymousDoor):
    throttle_classes = [LoginThrottle]

    @documented(
        "Set a new password",
        "Sets the password with the code of a reset mail (or, as older clients do, its "
        "uid and token: the code's parts around the dot). The password passes Django's "
        "validators. Every session ends and every access token is revoked.",
        request=s.PasswordResetInput,
        responses={200: s.DetailOutput},
    )
    def post(self, request: Request) -> Response:
        data = valid(s.PasswordResetInput, request)
        if "code" in data:
            data["uid"], data["token"] = accounts.split_reset_code(data.pop("code"))
        accounts.reset_password(**data)
        return Response({"detail": "Your password is set: log in with it."})


class SessionView(APIView):
    """The portal's log-in from a browser: a session cookie, with CSRF on later writes."""

    def get_permissions(self) -> Any:
        return [AllowAny()] if self.request.method == "POST" else super().get_permissions()

    def get_throttles(self) -> list[Any]:
        return [LoginThrottle()] if self.request.method == "POST" else []

    @documented(
        "Log in (session)",
        "Starts a browser session (a cookie) for a verified account; later unsafe requests "
        "with that session need the CSRF token. Scripts use POST /auth/tokens instead.",
        request=s.CredentialsInput,
        responses={200: s.MeOutput},
    )
    def post(self, request: Request) -> Response:
        data = valid(s.CredentialsInput, request)
        user = accounts.log_in(**data)
        login(request._request, user)
        request.user = user
        return Response(s.MeOutput(_me(request)).data)

    @documented(
        "Log out (session)",
        "Ends the browser session.",
        responses={204: OpenApiResponse(description="Logged out.")},
    )
    def delete(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=204)


class AccessTokenListView(APIView):
    pagination_class = Pagination

    def get_authenticators(self) -> list[Any]:
        # Creating a token proves identity with the password, not with another token.
        creating = getattr(self.request, "method", None) == "POST"  # None: schema generation
        return [] if creating else super().get_authenticators()

    def get_permissions(self) -> Any:
        return [AllowAny()] if self.request.method == "POST" else super().get_permissions()

    def get_throttles(self) -> list[Any]:
        return [LoginThrottle()] if self.request.method == "POST" else []

    @documented(
        "Your access tokens",
        "Your personal access tokens for scripts: metadata only, never the secret.",
        responses=s.AccessTokenOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        return page(self, request, selectors.access_tokens(user_of(request)), s.AccessTokenOutput)

    @documented(
        "Create an access token",
        "Exchanges the email and password of a verified account for a personal access "
        "token, sent as `Authorization: Bearer <token>`. The token is in this answer only; "
        "it expires after expires_in_days (1 to 365, default 90).",
        request=s.AccessTokenInput,
        responses={201: s.IssuedAccessTokenOutput},
    )
    def post(self, request: Request) -> Response:
        data = valid(s.AccessTokenInput, request)
        user = accounts.log_in(email=data["email"], password=data["password"])
        issued = accounts.create_access_token(
            user=user, label=data["label"], lifetime=timedelta(days=data["expires_in_days"])
        )
        body = s.AccessTokenOutput(issued.access_token).data
        body["token"] = issued.secret
        return Response(body, status=201, headers={"Cache-Control": "no-store"})


class AccessTokenDetailView(APIView):
    @documented(
        "Revoke an access token",
        "The token stops working at once. Revoking it twice is harmless.",
        responses={204: OpenApiResponse(description="Revoked.")},
    )
    def delete(self, request: Request, token_id: str) -> Response:
        accounts.revoke_access_token(token=selectors.access_token(user_of(request), token_id))
        return Response(status=204)


class MeView(APIView):
    @documented(
        "Who you are",
        "Your address, whether it is verified, and the organizations you belong to with "
        "your role in each.",
        responses=s.MeOutput,
    )
    def get(self, request: Request) -> Response:
        return Response(s.MeOutput(_me(request)).data)


class AcceptInvitationView(APIView):
    @documented(
        "Accept an invitation",
        "Joins the organization an invitation (sent to your address) names, in its role.",
        request=s.TokenInput,
        responses={200: s.MembershipOfCaller},
    )
    def post(self, request: Request) -> Response:
        data = valid(s.TokenInput, request)
        membership = accounts.accept_invitation(user=user_of(request), token=data["token"])
        return output(s.MembershipOfCaller, membership)
