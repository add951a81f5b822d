from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from apps.common.models import TimeStampedModel


class AdminAction(TimeStampedModel):
    """A staff operation recorded through the admin-operations API."""

    admin = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="admin_actions")
    action = models.CharField(max_length=128)
    target_type = models.CharField(max_length=64)
    target_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        db_table = "admin_actions"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["-created_at"], name="admin_actions_created_idx")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"


class KpiCounterDelta(models.Model):
    """A change to a KPI counter, written by a PostgreSQL trigger in the transaction that made it.

    Triggers on users, bookings, lessons, payments and lesson_packages append one
    row per changed metric and statement (`bookings:confirmed +1`, `bookings:hold -1`),
    never updating a shared row, so concurrent writers never wait on each other or
    deadlock here. `compact_kpi_counters` folds them into `KpiCounterTotal`.
    """

    id = models.BigAutoField(primary_key=True)
    metric = models.CharField(max_length=64)
    delta = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        db_table = "kpi_counter_deltas"

    def __str__(self) -> str:
        return f"{self.metric} {self.delta:+}"


class KpiCounterTotal(models.Model):
    """The folded value of one KPI counter: the KPI overview reads totals + pending deltas in one query."""

    metric = models.CharField(max_length=64, primary_key=True)
    value = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        db_table = "kpi_counter_totals"

    def __str__(self) -> str:
        return f"{self.metric} = {self.value}"
