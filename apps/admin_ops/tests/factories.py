import factory

from apps.admin_ops.models import AdminAction
from apps.identity.tests.factories import AdminFactory


class AdminActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdminAction

    admin = factory.SubFactory(AdminFactory)
    action = "refund.manual"
    target_type = "payment"
    target_id = None
    payload = factory.LazyFunction(dict)
