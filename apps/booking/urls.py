from django.urls import path

from apps.booking import views

# Literal paths before the <uuid:...> ones.
urlpatterns = [
    path("hold", views.BookingHoldView.as_view(), name="booking-hold"),
    path("holds/expire", views.BookingHoldsExpireView.as_view(), name="booking-holds-expire"),
    path("my", views.BookingMyListView.as_view(), name="booking-my"),
    path("<uuid:booking_id>", views.BookingDetailView.as_view(), name="booking-detail"),
    path("<uuid:booking_id>/confirm", views.BookingConfirmView.as_view(), name="booking-confirm"),
    path("<uuid:booking_id>/cancel", views.BookingCancelView.as_view(), name="booking-cancel"),
    path("<uuid:booking_id>/reschedule", views.BookingRescheduleView.as_view(), name="booking-reschedule"),
]
