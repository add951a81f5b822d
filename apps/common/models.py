import uuid

from django.db import models


class TimeStampedModel(models.Model):
    """UUID primary key plus created/updated stamps, as every table of SPEC §7 has."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
