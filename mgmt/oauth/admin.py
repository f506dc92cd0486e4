"""Admin for the authorization server: clients and their secrets (read-only: partners
manage them; never a hash), and the signing keys (never a private key) with a "rotate now"
action for operators."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from mgmt.oauth import rotation, signing_keys
from mgmt.oauth.models import OAuthClient, OAuthClientSecret, SigningKey
from mgmt.tls.sealing_key import NoSealingKey


class _ReadOnly:
    """Rows partners or the schedule write: the admin shows them and changes nothing."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SecretInline(_ReadOnly, admin.TabularInline[OAuthClientSecret, OAuthClient]):
    model = OAuthClientSecret
    fields = ("secret_id", "created_at", "expires_at", "revoked_at")
    readonly_fields = fields
    extra = 0


@admin.register(OAuthClient)
class OAuthClientAdmin(_ReadOnly, admin.ModelAdmin[OAuthClient]):
    list_display = ("client_id", "application", "created_at", "revoked_at")
    list_select_related = ("application",)
    search_fields = ("client_id", "application__name", "application__public_id")
    fields = ("client_id", "application", "created_at", "revoked_at")
    readonly_fields = fields
    inlines = (SecretInline,)


@admin.action(
    description="Rotate the signing key now (the selection does not matter)",
    permissions=["rotate"],
)
def rotate_now(
    modeladmin: SigningKeyAdmin, request: HttpRequest, queryset: QuerySet[SigningKey]
) -> None:
    try:
        created = signing_keys.rotate(force=True)
    except NoSealingKey as exc:
        modeladmin.message_user(request, f"No key made: {exc}", messages.ERROR)
        return
    assert created is not None  # forced
    modeladmin.message_user(
        request,
        f"Key {created.kid} is published now and signs from {created.signs_from:%H:%M:%S} "
        "UTC; the current key signs until then.",
        messages.SUCCESS,
    )


@admin.register(SigningKey)
class SigningKeyAdmin(_ReadOnly, admin.ModelAdmin[SigningKey]):
    list_display = ("kid", "algorithm", "created_at", "signs_from", "retired_at", "published")
    fields = ("kid", "algorithm", "public_jwk", "created_at", "signs_from", "retired_at")
    readonly_fields = fields
    actions = (rotate_now,)

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        # The rows are read-only in forms; changing the key set is an operator's right.
        return request.user.has_perm("oauth.change_signingkey")

    @admin.display(boolean=True, description="In the JWKS")
    def published(self, key: SigningKey) -> bool:
        return rotation.is_published(
            key.times(),
            timezone.now(),
            token_lifetime=signing_keys.token_lifetime(),
            leeway=signing_keys.LEEWAY,
        )
