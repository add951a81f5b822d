from django.urls import path

from apps.scheduling.views import OpenSlotListView, SlotCreateView

urlpatterns = [
    path("slots", SlotCreateView.as_view(), name="slot-create"),
    path("slots/open", OpenSlotListView.as_view(), name="slot-open-list"),
]
