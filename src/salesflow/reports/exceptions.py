"""The report's refusals (see ``salesflow.exceptions``): each says what to do instead."""

from salesflow.exceptions import NotFound, SalesflowError


class ReportDayInvalid(SalesflowError):
    """The day cannot be reported: it has not ended yet, or the data begins after it."""


class NoRecipients(SalesflowError):
    """The daily e-mail has nobody to go to: an admin adds recipients first."""


class ReportNotFound(NotFound):
    """No report is stored for that day."""
