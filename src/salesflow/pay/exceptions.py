"""Pay's refusals (see ``salesflow.exceptions``)."""

from salesflow.exceptions import SalesflowError


class PeriodRefused(SalesflowError):
    """A period cannot be closed or changed: not over yet, closed already, disputes open."""

    status = 409


class AdjustmentInvalid(SalesflowError):
    """An adjustment without an amount or a reason."""
