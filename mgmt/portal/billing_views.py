"""An organization's invoices page (the running drafts, then the finalized, paid and void
invoices) and each invoice's printable page. Owners and billing members only, like the
developer API's /invoices (mgmt.billing.invoice_view)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mgmt.billing.invoice_view import view_of
from mgmt.billing.selectors import billing_membership, partner_invoice, partner_invoices
from mgmt.portal.guards import allow_methods, member_page, signed_in_user


@member_page
def invoices(request: HttpRequest, org: str) -> HttpResponse:
    membership = billing_membership(signed_in_user(request), org)
    allow_methods(request, "GET", "HEAD")
    views = [view_of(invoice) for invoice in partner_invoices(membership.organization_id)]
    context = {
        "organization": membership.organization,
        "running": [v for v in views if v.running],
        "issued": [v for v in views if not v.running],
    }
    return render(request, "portal/billing/invoices.html", context)


@member_page
def invoice(request: HttpRequest, org: str, reference: str) -> HttpResponse:
    membership = billing_membership(signed_in_user(request), org)
    found = partner_invoice(membership.organization_id, reference)
    allow_methods(request, "GET", "HEAD")
    context = {"organization": membership.organization, "invoice": view_of(found)}
    return render(request, "portal/billing/invoice.html", context)
