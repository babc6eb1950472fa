"""Pay's refusals (see ``salesflow.exceptions``)."""

from salesflow.exceptions import SalesflowError


class PeriodRefused(SalesflowError):
    """A period cannot be closed or changed: not over yet, closed already, disputes open."""

    status = 409


class AdjustmentInvalid(SalesflowError):
    """An adjustment without an amount or a reason."""


class DisputeInvalid(SalesflowError):
    """A dispute without its reason, or a decision without its answer or amount."""


class DisputeConflict(SalesflowError):
    """The line is disputed already, or the dispute was decided already."""

    status = 409
