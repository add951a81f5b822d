from django.urls import path

from apps.billing import views

# Literal paths come before the <uuid:...> ones.
urlpatterns = [
    path("packages", views.PackageCreateView.as_view(), name="billing-package-create"),
    path("packages/expire", views.PackageExpireView.as_view(), name="billing-package-expire"),
    path(
        "packages/students/<uuid:student_id>",
        views.StudentPackageListView.as_view(),
        name="billing-student-packages",
    ),
    path("payments", views.PaymentListCreateView.as_view(), name="billing-payments"),
    path("payments/<uuid:payment_id>/status", views.PaymentStatusView.as_view(), name="billing-payment-status"),
]
