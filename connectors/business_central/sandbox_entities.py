"""Entity sets of the BC sandbox as data: property types, what is writable, lengths, nesting.

Property types use the letters of :mod:`sandbox_odata` (s string, g guid, d date,
t DateTimeOffset, n decimal, i integer, b boolean). A property not listed here does not
exist, and writing it is a 400 as in BC; a listed property not in ``writable`` is read-only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ENTITY_SETS", "EntitySpec", "WEBHOOK_SETS"]


def _types(spec: str) -> dict[str, str]:
    """``"id:g number:s ..."`` -> {"id": "g", "number": "s"}."""
    return dict(part.split(":") for part in spec.split())


@dataclass(frozen=True, slots=True)
class EntitySpec:
    name: str                      # entity set, e.g. "customers"
    type_name: str                 # OData type, e.g. "customer"
    types: dict[str, str]
    writable: frozenset[str]
    lengths: dict[str, int] = field(default_factory=dict)
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # a field's MinValue/MaxValue
    defaults: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None      # the entity set this one is nested under
    parent_field: str | None = None
    expandable: tuple[str, ...] = ()
    creatable: bool = True
    updatable: bool = True
    deletable: bool = True
    top_level: bool = True         # also reachable as companies(...)/<name>


_ADDRESS = "addressLine1:s addressLine2:s city:s state:s country:s postalCode:s"
_DOC = ("id:g number:s externalDocumentNumber:s customerId:g customerNumber:s customerName:s "
        "currencyCode:s paymentTermsId:g pricesIncludeTax:b discountAmount:n "
        "totalAmountExcludingTax:n totalTaxAmount:n totalAmountIncludingTax:n status:s "
        "postingDate:d dueDate:d phoneNumber:s email:s lastModifiedDateTime:t")
_LINE = ("id:g documentId:g sequence:i itemId:g accountId:g lineType:s lineObjectNumber:s "
         "description:s unitOfMeasureCode:s quantity:n unitPrice:n discountAmount:n "
         "discountPercent:n amountExcludingTax:n taxCode:s taxPercent:n totalTaxAmount:n "
         "amountIncludingTax:n netAmount:n")
_LINE_WRITABLE = frozenset({"sequence", "itemId", "accountId", "lineType", "lineObjectNumber",
                            "description", "unitOfMeasureCode", "quantity", "unitPrice",
                            "discountPercent", "taxCode"})
# String lengths are the BaseApp table fields' (Customer/Vendor, Sales Header/Line, Item,
# Gen. Journal Line): Text[50] "Address 2", Code[10] "Currency Code", Code[20] "No."...
_PARTY_LENGTHS = {"addressLine1": 100, "addressLine2": 50, "city": 30, "state": 30,
                  "country": 10, "postalCode": 20, "phoneNumber": 30, "email": 80,
                  "currencyCode": 10}
_DOC_LENGTHS = {"externalDocumentNumber": 35, "customerNumber": 20, "currencyCode": 10,
                "phoneNumber": 30, "email": 80}
_LINE_LENGTHS = {"description": 100, "lineObjectNumber": 20, "unitOfMeasureCode": 10,
                 "taxCode": 20}
# Sales Line "Line Discount %": MinValue = 0, MaxValue = 100.
_LINE_RANGES = {"discountPercent": (0, 100)}
_DOC_WRITABLE = {"externalDocumentNumber", "customerId", "customerNumber", "currencyCode",
                 "paymentTermsId", "postingDate", "dueDate", "phoneNumber", "email",
                 "pricesIncludeTax"}


def _specs() -> dict[str, EntitySpec]:
    specs = [
        EntitySpec("companies", "company", _types(
            "id:g systemVersion:s name:s displayName:s businessProfileId:s"),
            frozenset(), creatable=False, updatable=False, deletable=False),
        EntitySpec("customers", "customer", _types(
            f"id:g number:s displayName:s type:s {_ADDRESS} phoneNumber:s email:s website:s "
            "taxLiable:b taxAreaId:g taxRegistrationNumber:s currencyId:g currencyCode:s "
            "paymentTermsId:g shipmentMethodId:g paymentMethodId:g blocked:s "
            "lastModifiedDateTime:t"),
            frozenset({"number", "displayName", "type", "addressLine1", "addressLine2", "city",
                       "state", "country", "postalCode", "phoneNumber", "email", "website",
                       "taxLiable", "taxRegistrationNumber", "currencyCode", "paymentTermsId",
                       "paymentMethodId", "blocked"}),
            lengths={"number": 20, "displayName": 100, "taxRegistrationNumber": 20,
                     **_PARTY_LENGTHS},
            defaults={"type": "Company", "blocked": " ", "taxLiable": False, "currencyCode": "",
                      "displayName": "", "taxRegistrationNumber": ""},
            expandable=("customerFinancialDetails",)),
        EntitySpec("vendors", "vendor", _types(
            f"id:g number:s displayName:s {_ADDRESS} phoneNumber:s email:s website:s "
            "taxRegistrationNumber:s currencyId:g currencyCode:s paymentTermsId:g "
            "paymentMethodId:g taxLiable:b blocked:s balance:n lastModifiedDateTime:t"),
            frozenset({"number", "displayName", "addressLine1", "addressLine2", "city", "state",
                       "country", "postalCode", "phoneNumber", "email", "website",
                       "taxRegistrationNumber", "currencyCode", "paymentTermsId",
                       "paymentMethodId", "taxLiable", "blocked"}),
            lengths={"number": 20, "displayName": 100, "taxRegistrationNumber": 20,
                     **_PARTY_LENGTHS},
            defaults={"blocked": " ", "taxLiable": False, "currencyCode": "", "balance": 0,
                      "displayName": "", "taxRegistrationNumber": ""}),
        EntitySpec("items", "item", _types(
            "id:g number:s displayName:s type:s itemCategoryCode:s blocked:b gtin:s "
            "inventory:n unitPrice:n priceIncludesTax:b unitCost:n taxGroupId:g taxGroupCode:s "
            "baseUnitOfMeasureCode:s generalProductPostingGroupCode:s "
            "inventoryPostingGroupCode:s lastModifiedDateTime:t"),
            frozenset({"number", "displayName", "type", "itemCategoryCode", "blocked", "gtin",
                       "unitPrice", "priceIncludesTax", "unitCost", "taxGroupId", "taxGroupCode",
                       "baseUnitOfMeasureCode"}),
            lengths={"number": 20, "displayName": 100, "gtin": 14, "itemCategoryCode": 20,
                     "baseUnitOfMeasureCode": 10, "taxGroupCode": 20},
            defaults={"type": "Inventory", "blocked": False, "inventory": 0, "unitPrice": 0,
                      "priceIncludesTax": False, "unitCost": 0, "baseUnitOfMeasureCode": "UDS",
                      "gtin": "", "displayName": ""}),
        EntitySpec("salesInvoices", "salesInvoice", _types(
            f"{_DOC} invoiceDate:d remainingAmount:n"),
            frozenset(_DOC_WRITABLE | {"invoiceDate"}),
            lengths=_DOC_LENGTHS,
            expandable=("salesInvoiceLines",)),
        EntitySpec("salesInvoiceLines", "salesInvoiceLine", _types(_LINE), _LINE_WRITABLE,
                   parent="salesInvoices", parent_field="documentId", top_level=False,
                   lengths=_LINE_LENGTHS, ranges=_LINE_RANGES),
        EntitySpec("salesCreditMemos", "salesCreditMemo", _types(
            f"{_DOC} creditMemoDate:d invoiceId:g invoiceNumber:s"),
            frozenset(_DOC_WRITABLE | {"creditMemoDate", "invoiceId"}),
            lengths=_DOC_LENGTHS,
            expandable=("salesCreditMemoLines",)),
        EntitySpec("salesCreditMemoLines", "salesCreditMemoLine", _types(_LINE), _LINE_WRITABLE,
                   parent="salesCreditMemos", parent_field="documentId", top_level=False,
                   lengths=_LINE_LENGTHS, ranges=_LINE_RANGES),
        EntitySpec("customerPaymentJournals", "customerPaymentJournal", _types(
            "id:g code:s displayName:s balancingAccountId:g balancingAccountNumber:s "
            "lastModifiedDateTime:t"),
            frozenset({"code", "displayName", "balancingAccountNumber"}),
            lengths={"code": 10, "displayName": 100, "balancingAccountNumber": 20},
            defaults={"balancingAccountNumber": "5720001", "displayName": ""}),
        EntitySpec("customerPayments", "customerPayment", _types(
            "id:g journalId:g journalDisplayName:s lineNumber:i customerId:g customerNumber:s "
            "postingDate:d documentNumber:s externalDocumentNumber:s amount:n "
            "appliesToInvoiceId:g appliesToInvoiceNumber:s description:s comment:s "
            "lastModifiedDateTime:t"),
            frozenset({"lineNumber", "customerId", "customerNumber", "postingDate",
                       "documentNumber", "externalDocumentNumber", "amount", "appliesToInvoiceId",
                       "appliesToInvoiceNumber", "description", "comment"}),
            lengths={"documentNumber": 20, "externalDocumentNumber": 35, "description": 100,
                     "customerNumber": 20, "appliesToInvoiceNumber": 20,
                     "comment": 250},
            parent="customerPaymentJournals", parent_field="journalId",
            defaults={"externalDocumentNumber": "", "description": "", "comment": ""}),
        EntitySpec("generalLedgerEntries", "generalLedgerEntry", _types(
            "id:g entryNumber:i postingDate:d documentNumber:s documentType:s accountId:g "
            "accountNumber:s description:s debitAmount:n creditAmount:n lastModifiedDateTime:t"),
            frozenset(), creatable=False, updatable=False, deletable=False),
        EntitySpec("paymentTerms", "paymentTerm", _types(
            "id:g code:s displayName:s dueDateCalculation:s discountDateCalculation:s "
            "discountPercent:n calculateDiscountOnCreditMemos:b lastModifiedDateTime:t"),
            frozenset({"code", "displayName", "dueDateCalculation", "discountDateCalculation",
                       "discountPercent", "calculateDiscountOnCreditMemos"}),
            lengths={"code": 10}),
        EntitySpec("paymentMethods", "paymentMethod", _types(
            "id:g code:s displayName:s lastModifiedDateTime:t"),
            frozenset({"code", "displayName"}), lengths={"code": 10}),
        EntitySpec("taxGroups", "taxGroup", _types(
            "id:g code:s displayName:s taxType:s lastModifiedDateTime:t"),
            frozenset({"code", "displayName"}), lengths={"code": 20}),
        EntitySpec("currencies", "currency", _types(
            "id:g code:s displayName:s symbol:s lastModifiedDateTime:t"),
            frozenset({"code", "displayName", "symbol"}), lengths={"code": 10}),
    ]
    return {spec.name: spec for spec in specs}


ENTITY_SETS: dict[str, EntitySpec] = _specs()
FINANCIAL_DETAILS = _types("id:g number:s balance:n totalSalesExcludingTax:n overdueAmount:n")
# Entity sets that accept webhook subscriptions (dynamics-subscriptions.md, v2.0 list).
WEBHOOK_SETS = frozenset({"customers", "vendors", "items", "salesInvoices", "salesCreditMemos",
                          "paymentTerms", "customerPaymentJournals"})
