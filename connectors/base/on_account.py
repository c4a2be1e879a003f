"""The customer a payment on account is booked to, in an ERP that creates no customers.

A payment on account (no invoice) lowers one customer's balance, so the ERP must already have
that customer. The SAP B1 and Business Central sinks create none (they have no external-id
field to find a created one again), so only a contact born there has an id there: any other
is ``Unmappable`` and parked, as a payment of an invoice born elsewhere is.
"""
from __future__ import annotations

from app.core.keys import EntityKey
from app.mapping import Mapping, Unmappable

__all__ = ["customer_born_in"]


def customer_born_in(contact_key: str, system: str, label: str, shape: str,
                     mapping: Mapping) -> str:
    """The ERP id in ``contact_key`` (``contact/<system>/<id>``); Unmappable otherwise."""
    born = EntityKey.parse(contact_key).id_in(system)
    if born is None:
        raise Unmappable([f"contact_key: {contact_key} was not born in {label}; the sink "
                          f"creates no customers, so a payment on account goes only to a "
                          f"customer born there ({shape})"], mapping_version=mapping.version)
    return born
