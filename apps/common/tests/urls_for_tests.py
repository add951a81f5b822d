"""Test-only URLConf: the real routes plus views that raise on purpose.

Used with `@pytest.mark.urls("apps.common.tests.urls_for_tests")`.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection
from django.http import Http404
from django.urls import path
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common import errors
from apps.common.fields import OffsetDateTimeField
from apps.common.permissions import IsAdmin
from apps.common.viewsets import ApiRouter, ApiViewSet, endpoint
from apps.identity.models import User
from apps.identity.serializers import UserSerializer
from guitaronline import urls as project_urls

SECRET_TEXT = "SELECT password FROM users WHERE secret='hunter2'"

RAISABLE = {
    "runtime": lambda: RuntimeError(SECRET_TEXT),
    "integrity": lambda: IntegrityError(SECRET_TEXT),
    "http404": lambda: Http404(SECRET_TEXT),
    "django_permission_denied": lambda: DjangoPermissionDenied(SECRET_TEXT),
    "django_validation": lambda: DjangoValidationError({"field": ["Bad value."]}),
    "drf_validation": lambda: drf_exceptions.ValidationError({"field": ["Bad value."]}),
    "drf_throttled": lambda: drf_exceptions.Throttled(wait=7),
    "ratelimited": lambda: Ratelimited(),
    "domain_invalid": lambda: errors.InvalidInput("Nope.", details={"x": ["bad"]}),
    "domain_not_found": lambda: errors.NotFound(),
    "domain_forbidden": lambda: errors.Forbidden(),
    "domain_conflict": lambda: errors.Conflict(),
    "domain_rule": lambda: errors.BusinessRuleViolation("Slot is not open."),
    "domain_rate_limited": lambda: errors.RateLimited(retry_after=12),
}


class RaiseView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request, name):
        raise RAISABLE[name]()


class BadSqlView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT secret_column FROM no_such_table_for_tests")
        return Response({})


def plain_django_raise(request, name):
    raise RAISABLE[name]()


class WhenSerializer(serializers.Serializer):
    at = OffsetDateTimeField()


class TestOnlyViewSet(ApiViewSet):
    """The shared viewset shape (apps/common/viewsets.py) on test-only routes."""

    serializer_class = UserSerializer

    @endpoint("get", "admin-only", permissions=[IsAdmin], returns=WhenSerializer)
    def admin_only(self, request):
        return Response({"ok": True})

    @endpoint("get", "users", page=True, permissions=[AllowAny])
    def users(self, request):
        return User.objects.order_by("email")

    @endpoint("post", "when", body=WhenSerializer, returns=WhenSerializer, permissions=[AllowAny])
    def when(self, request, body):
        return body


router = ApiRouter()
router.register("test-only", TestOnlyViewSet, basename="test-only")


class EchoView(APIView):
    """Answers with the parsed body: the parser's own path (outside /api/, no middleware)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request):
        return Response({"data": request.data})


urlpatterns = [
    path("test-only/echo", EchoView.as_view()),
    path("test-only/raise/<str:name>", RaiseView.as_view()),
    path("test-only/plain-raise/<str:name>", plain_django_raise),
    path("test-only/bad-sql", BadSqlView.as_view()),
    *router.urls,
    *project_urls.urlpatterns,
]

handler400 = project_urls.handler400
handler403 = project_urls.handler403
handler404 = project_urls.handler404
handler500 = project_urls.handler500
