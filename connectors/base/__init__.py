"""Shared connector base: errors, classification, paginators, limiter, retry, transport."""

from connectors.base.classify import Action, ClassificationTable, Rule, raise_for_response
from connectors.base.errors import (
    AuthExpired,
    ConnectorError,
    ErrorContext,
    FatalError,
    Fault,
    PaginationLoop,
    RateLimited,
    RetryableError,
    SkipRecord,
)
from connectors.base.http import ApiTransport
from connectors.base.limiter import Clock, Limiters, RateLimit, SystemClock, TokenBucket
from connectors.base.retry import Retrier, RetryPolicy

__all__ = [
    "Action",
    "ApiTransport",
    "AuthExpired",
    "ClassificationTable",
    "Clock",
    "ConnectorError",
    "ErrorContext",
    "FatalError",
    "Fault",
    "Limiters",
    "PaginationLoop",
    "RateLimit",
    "RateLimited",
    "Retrier",
    "RetryPolicy",
    "RetryableError",
    "Rule",
    "SkipRecord",
    "SystemClock",
    "TokenBucket",
    "raise_for_response",
]
