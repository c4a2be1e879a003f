"""Odoo faults -> the connector error taxonomy, in one table.

Odoo reports errors three ways: a JSON-RPC ``error`` object whose ``data.name`` is the
exception class, an XML-RPC ``Fault`` whose ``faultCode`` is 1 (application error, with a
traceback), 2 (UserError and subclasses: ValidationError, MissingError), 3 (AccessDenied) or 4
(AccessError), and a JSON-2 HTTP status with the same JSON ``name``. All three land here::

    odoo.exceptions.AccessDenied / odoo.http.SessionExpiredException
                                        -> AuthExpired (refresh once: log in again)
    odoo.exceptions.AccessError         -> OdooAccessError  (FatalError, config: user rights)
    odoo.exceptions.MissingError        -> OdooMissing      (SkipRecord, data)
    odoo.exceptions.ValidationError / UserError / RedirectWarning
                                        -> OdooRejected     (SkipRecord, data)
    psycopg2 serialization / lock errors -> RetryableError  (transient)
    'database "X" does not exist'        -> FatalError       (config: ODOO_DB)
    anything else                       -> OdooServerError  (FatalError, remote)
"""
from __future__ import annotations

from connectors.base.errors import (
    AuthExpired,
    ConnectorError,
    ErrorContext,
    FatalError,
    Fault,
    RetryableError,
    SkipRecord,
)

__all__ = ["SYSTEM", "OdooAccessError", "OdooMissing", "OdooRejected", "OdooServerError",
           "from_fault_code", "from_name"]

SYSTEM = "odoo"


class OdooAccessError(FatalError):
    """The API user lacks the rights for this model or record."""


class OdooMissing(SkipRecord):
    """The record does not exist (or was deleted)."""


class OdooRejected(SkipRecord):
    """Odoo refused the values (ValidationError / UserError): the record needs fixing."""


class OdooServerError(FatalError):
    default_fault = Fault.REMOTE


_TRANSIENT = ("SerializationFailure", "LockNotAvailable", "TransactionRollbackError",
              "could not serialize access", "concurrent update")


def from_name(name: str, message: str, context: ErrorContext | None = None) -> ConnectorError:
    """The error for an Odoo exception class path (``odoo.exceptions.ValidationError``)."""
    short = name.rsplit(".", 1)[-1]
    text = f"{short}: {message}".strip()
    if short in ("AccessDenied", "SessionExpiredException"):
        return AuthExpired(text, context=context)
    if short == "AccessError":
        return OdooAccessError(text, context=context)
    if short == "MissingError":
        return OdooMissing(text, context=context)
    if "database" in message and "does not exist" in message:  # the db of ODOO_DB
        return FatalError(f"{text} (check ODOO_DB)", fault=Fault.CONFIG, context=context)
    if short in ("ValidationError", "UserError", "RedirectWarning", "ValueError"):
        return OdooRejected(text, context=context)
    if any(marker in name or marker in message for marker in _TRANSIENT):
        return RetryableError(text, fault=Fault.TRANSIENT, context=context)
    return OdooServerError(text, context=context)


def from_fault_code(code: int, text: str, context: ErrorContext | None = None) -> ConnectorError:
    """The error for an XML-RPC fault (Odoo's faultCode constants)."""
    if code == 3:
        return from_name("odoo.exceptions.AccessDenied", text, context)
    if code == 4:
        return from_name("odoo.exceptions.AccessError", text, context)
    if code == 2:
        return from_name("odoo.exceptions.UserError", text, context)
    last = text.strip().splitlines()[-1] if text.strip() else ""
    name, _, message = last.partition(": ")
    return from_name(name or "builtins.Exception", message or text[-200:], context)
