"""What the API remembers between requests: the idempotency keys of lead creation."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` a user sent with a lead creation, and the answer it got.

    The unique constraint (per user) is the whole concurrency story: of two concurrent
    requests with one key, the second's INSERT waits for the first's transaction and then
    fails, and it answers with the response the first stored (see ``services``).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("user"),
    )
    key = models.CharField(_("key"), max_length=255)
    fingerprint = models.CharField(
        _("request fingerprint"), max_length=64, help_text=_("SHA-256 of the request body.")
    )
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True)
    response = models.JSONField(_("response"), null=True)
    created = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
