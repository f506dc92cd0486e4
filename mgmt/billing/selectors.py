"""The reads that reach a partner's invoices: only its own, only through a membership whose
role sees billing (mgmt.billing.access)."""

import re
from typing import Final

from django.contrib.auth.models import User
from django.db.models import QuerySet

from mgmt.billing.access import sees_billing
from mgmt.billing.models import Invoice
from mgmt.developers import selectors
from mgmt.developers.errors import NotFound, NotPermitted
from mgmt.gateway.models import Membership

# An id is a draft's only name; bounded like mgmt.path_converters' ids, so a 30-digit
# reference is "not found" instead of an integer PostgreSQL cannot hold.
_ID: Final = re.compile(r"[1-9][0-9]{0,17}")


def billing_membership(user: User, organization_slug: str) -> Membership:
    """The caller's membership of that organization, if its role sees billing: NotFound
    for someone who is no member (as everywhere), NotPermitted for a short role."""
    found = selectors.membership(user, organization_slug)
    if not sees_billing(found.role):
        raise NotPermitted(
            f"your role ({found.role}) does not see invoices: owners and billing members do"
        )
    return found


def partner_invoices(organization_id: int) -> QuerySet[Invoice]:
    """The invoices the organization receives, drafts included, newest period first, with
    everything `view_of` reads: a fixed number of queries for any page of them."""
    return (
        Invoice.objects.filter(partner_id=organization_id)
        .select_related("period", "issuer", "partner")
        .prefetch_related("lines", "credit_notes")
        .order_by("-period__starts_at", "-pk")
    )


def partner_invoice(organization_id: int, reference: str) -> Invoice:
    """One of them by number (INV-ACME-000001) or by id (a draft has no number yet)."""
    rows = partner_invoices(organization_id)
    if _ID.fullmatch(reference):
        found = rows.filter(pk=int(reference)).first()
    else:
        found = rows.filter(number=reference).exclude(number="").first()
    if found is None:
        raise NotFound("no such invoice")
    return found
