"""/catalog/…: what can be subscribed to and called, for anyone signed in."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mgmt.devapi.pagination import Pagination
from mgmt.devapi.serializers import catalog as s
from mgmt.devapi.views.common import documented, output, page
from mgmt.developers import selectors


class ProductListView(APIView):
    pagination_class = Pagination

    @documented(
        "The catalog",
        "Products with at least one published or deprecated version, each with its public "
        "plans (rate limits, quota, whether subscriptions need approval) and its APIs with "
        "the versions you can call, their lifecycle dates and successors.",
        responses=s.ProductOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        return page(self, request, selectors.catalog_products(), s.ProductOutput)


class ProductDetailView(APIView):
    @documented("A product", "One product of the catalog, by slug.", responses=s.ProductOutput)
    def get(self, request: Request, product: str) -> Response:
        return output(s.ProductOutput, selectors.catalog_product(product))


class VersionDetailView(APIView):
    @documented(
        "An API version",
        "One version's lifecycle (published, deprecated with its sunset and successor), "
        "where it is served, and its changelog of lifecycle transitions.",
        responses=s.VersionDetailOutput,
    )
    def get(self, request: Request, api: str, version: str) -> Response:
        return output(s.VersionDetailOutput, selectors.visible_version(api, version))


class VersionOpenApiView(APIView):
    @documented(
        "An API version's OpenAPI document",
        "The OpenAPI 3 document its owner published for this version, as JSON.",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The document.")},
    )
    def get(self, request: Request, api: str, version: str) -> Response:
        document = selectors.openapi_document_of(selectors.visible_version(api, version))
        return Response(document)
