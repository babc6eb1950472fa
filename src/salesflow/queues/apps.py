from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QueuesConfig(AppConfig):
    """Pools of work per role: what is due when, who takes what, what is stuck."""

    name = "salesflow.queues"
    label = "queues"
    verbose_name = _("Queues")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_delete

        from .guards import refuse_deleting_people_with_work

        pre_delete.connect(
            refuse_deleting_people_with_work,
            sender=get_user_model(),
            dispatch_uid="salesflow-refuse-deleting-people-with-work",
        )
