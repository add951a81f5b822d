"""Thin HTTP layer over billing's services and selectors."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.billing import selectors, services
from apps.billing.serializers import (
    ExpiredCountSerializer,
    PackageCreateSerializer,
    PackageSerializer,
    PaymentCreateSerializer,
    PaymentListQuerySerializer,
    PaymentSerializer,
    PaymentStatusSerializer,
)
from apps.common.pagination import PAGE_PARAMETERS, page_serializer, paginated_response
from apps.common.permissions import IsAdmin, IsAdminOrStudent


class PackageCreateView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=PackageCreateSerializer, responses={201: PackageSerializer}, tags=["billing"])
    def post(self, request):
        serializer = PackageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        package = services.package_create(actor=request.user, **serializer.validated_data)
        return Response(PackageSerializer(package).data, status=status.HTTP_201_CREATED)


class PackageExpireView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={200: ExpiredCountSerializer}, tags=["billing"])
    def post(self, request):
        expired = services.packages_expire_due(actor=request.user)
        return Response({"expired": expired})


class StudentPackageListView(APIView):
    permission_classes = [IsAuthenticated]
    serializer_class = PackageSerializer

    @extend_schema(parameters=PAGE_PARAMETERS, responses={200: page_serializer(PackageSerializer)}, tags=["billing"])
    def get(self, request, student_id):
        packages = selectors.package_list_for_student(viewer=request.user, student_id=student_id)
        return paginated_response(request=request, view=self, queryset=packages, serializer_class=PackageSerializer)


class PaymentListCreateView(APIView):
    permission_classes = [IsAdminOrStudent]
    serializer_class = PaymentSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "package_id", OpenApiTypes.UUID, required=False, description="Only this package's payments"
            ),
            *PAGE_PARAMETERS,
        ],
        responses={200: page_serializer(PaymentSerializer)},
        operation_id="billing_payments_list",
        tags=["billing"],
    )
    def get(self, request):
        query = PaymentListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        payments = selectors.payment_list(viewer=request.user, package_id=query.validated_data.get("package_id"))
        return paginated_response(request=request, view=self, queryset=payments, serializer_class=PaymentSerializer)

    @extend_schema(request=PaymentCreateSerializer, responses={201: PaymentSerializer}, tags=["billing"])
    def post(self, request):
        serializer = PaymentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = services.payment_create(actor=request.user, **serializer.validated_data)
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class PaymentStatusView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=PaymentStatusSerializer, responses={200: PaymentSerializer}, tags=["billing"])
    def patch(self, request, payment_id):
        serializer = PaymentStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = services.payment_set_status(
            actor=request.user, payment_id=payment_id, status=serializer.validated_data["status"]
        )
        return Response(PaymentSerializer(payment).data)
