"""The SAP sandbox's records (aiosqlite, one JSON document per row) and SAP's business rules.

Entity sets, their keys and every property they accept are declared in :data:`TEMPLATES`; a
POST or PATCH naming another property is refused the way SL refuses it. Rules kept:
DataVersion + ETag on BusinessPartners, Items and documents (412 on a stale ``If-Match``);
UpdateDate/UpdateTime stamped in the server's local time on every write; documents totalled
from their lines with the company's ``VatGroups`` and ``WithholdingTaxCodes`` (the rate
effective on the document date), numbered in a series of their object (``SERIES``, read
through ``SeriesService_GetDocumentSeries``), their G/L accounts and a payment's transfer
account found in ``ChartOfAccounts``; IncomingPayments
applied to invoices (``PaidToDate`` grows, ``DocumentStatus`` closes at the total; more
applied to an invoice than its open balance, more applied than received, or a payment of
another customer's invoice is refused; only customer receipts, ``DocType`` rCustomer of a
cCustomer partner). A payment may receive more than it applies: the rest
stays on the customer's account, unapplied (a "payment on account"; SAP's client offers it and
a third-party DI API answer says the excess goes there automatically: UNVERIFIED for the
Service Layer, see docs/sap_b1.md). The partner's ``CurrentAccountBalance`` (read-only) rises
with each invoice, falls with each credit note and each payment received, without touching
the partner's DataVersion or update time. Payments carry no update time and no DataVersion, as
in the real metadata. Warehouses and item stock: connectors/sap_b1/sandbox_stock.py.
"""
from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import aiosqlite

from connectors.sap_b1.sandbox_errors import SapError
from connectors.sap_b1.sandbox_stock import item_rows, move_row

__all__ = ["ACCOUNTS", "KEYS", "OBJECT_CODES", "SERIES", "TEMPLATES", "SapError", "Store",
           "VAT_GROUPS", "WAREHOUSES", "WT_CODES", "filter_literal", "rate_on"]

Record = dict[str, Any]
CENT = Decimal("0.01")
# SAP keeps amounts, prices and quantities as numeric(19,6): fewer than 13 integer digits.
MAX_AMOUNT = Decimal(10) ** 13
VAT_GROUPS = {"R3": Decimal(21), "R2": Decimal(10), "R1": Decimal(4), "R0": Decimal(0),
              "RX": Decimal(0), "RIC": Decimal(0), "RIS": Decimal(0), "RISP": Decimal(0),
              "REX": Decimal(0), "RE3": Decimal("5.2"), "RE2": Decimal("1.4"),
              "RE1": Decimal("0.5")}
WT_CODES = {"IR15": Decimal(15), "IR07": Decimal(7), "IR19": Decimal(19)}
# The seeded company's chart (the G/L accounts its documents and payments post to) and stores.
ACCOUNTS = {"43000000": "Clientes",
            "47300000": "Hacienda Pública, retenciones y pagos a cuenta",
            "57000000": "Caja, euros",
            "57200000": "Bancos e instituciones de crédito c/c vista, euros",
            "70000000": "Ventas de mercaderías", "70500000": "Prestaciones de servicios",
            "70800000": "Devoluciones de ventas y operaciones similares"}
WAREHOUSES = {"01": "Almacén central Valencia", "02": "Tienda Madrid"}
# Numbering series per object (NNM1; ``Document`` is the object code: 13 A/R invoice, 14 A/R
# credit memo). A ``Series`` number is unique in the company, whatever object it numbers.
SERIES = (
    {"Series": 1, "Name": "Facturas", "Document": "13", "DocumentSubType": "--",
     "Prefix": "F", "Suffix": None, "InitialNumber": 1001, "LastNumber": None,
     "Locked": "tNO", "PeriodIndicator": "Default", "IsManual": "tNO"},
    {"Series": 2, "Name": "Abonos", "Document": "14", "DocumentSubType": "--",
     "Prefix": "R", "Suffix": None, "InitialNumber": 1001, "LastNumber": None,
     "Locked": "tNO", "PeriodIndicator": "Default", "IsManual": "tNO"},
)
OBJECT_CODES = {"Invoices": "13", "CreditNotes": "14"}
# The tables SAP names in its errors: a document's header and lines, a partner.
TABLES = {"Invoices": ("OINV", "INV1"), "CreditNotes": ("ORIN", "RIN1"),
          "BusinessPartners": ("OCRD", "")}

_STAMPS = {"CreateDate": None, "CreateTime": None, "UpdateDate": None, "UpdateTime": None,
           "DataVersion": 1}
_DOC = {"DocEntry": None, "DocNum": None, "Series": None, "DocType": "dDocument_Items",
        "DocDate": None, "DocDueDate": None, "TaxDate": None, "CardCode": None,
        "CardName": None, "FederalTaxID": None, "NumAtCard": None, "DocCurrency": "EUR",
        "DocRate": Decimal(1), "PaymentGroupCode": -1, "DocTotal": Decimal(0),
        "VatSum": Decimal(0), "WTAmount": Decimal(0), "WTApplied": Decimal(0),
        "PaidToDate": Decimal(0), "DocumentStatus": "bost_Open", "Cancelled": "tNO",
        "Comments": None, "DocumentLines": [], "WithholdingTaxDataCollection": [], **_STAMPS}
TEMPLATES: dict[str, Record] = {
    "BusinessPartners": {
        "CardCode": None, "CardName": None, "CardType": "cCustomer", "FederalTaxID": None,
        "EmailAddress": None, "Phone1": None, "Address": None, "ZipCode": None, "City": None,
        "County": None, "Country": "ES", "Currency": "EUR", "PayTermsGrpCode": -1,
        "PriceListNum": 1, "VatLiable": "vLiable", "VatGroup": None,
        "SubjectToWithholdingTax": "tNO", "WTCode": None, "IBAN": None, "BPBankAccounts": [],
        "Valid": "tYES", "Frozen": "tNO", "CurrentAccountBalance": Decimal(0), **_STAMPS},
    "Items": {
        "ItemCode": None, "ItemName": None, "ForeignName": None, "BarCode": None,
        "SalesVATGroup": None, "PurchaseVATGroup": None, "VatLiable": "tYES", "WTLiable": "tNO",
        "SalesItem": "tYES", "InventoryItem": "tYES", "IncomeAccount": None, "Valid": "tYES",
        "Frozen": "tNO", "ItemPrices": [], "ItemWarehouseInfoCollection": None, **_STAMPS},
    "Invoices": dict(_DOC),
    "CreditNotes": dict(_DOC),
    "IncomingPayments": {
        "DocEntry": None, "DocNum": None, "DocDate": None, "DocType": "rCustomer",
        "CardCode": None, "CardName": None, "DocCurrency": "EUR", "CashSum": Decimal(0), "TransferSum": Decimal(0),
        "TransferAccount": None, "TransferDate": None, "TransferReference": None,
        "CounterReference": None, "Remarks": None, "JournalRemarks": None, "Cancelled": "tNO",
        "PaymentInvoices": []},
    "PaymentTermsTypes": {"GroupNumber": None, "PaymentTermsGroupName": None,
                          "NumberOfAdditionalMonths": 0, "NumberOfAdditionalDays": 0},
    # Reference data, as the metadata names it (a subset of each type's properties): a rate
    # lives in the lines, one per date it took effect from.
    "VatGroups": {"Code": None, "Name": None, "Category": "bovcOutputTax", "Inactive": "tNO",
                  "VatGroups_Lines": []},
    "WithholdingTaxCodes": {"WTCode": None, "WTName": None, "Category": "wtcc_Invoice",
                            "BaseType": "wtcbt_Net", "BaseAmount": Decimal(100),
                            "Account": None, "Inactive": "tNO",
                            "WithholdingTaxCodes_Lines": []},
    "ChartOfAccounts": {"Code": None, "Name": None, "ActiveAccount": "tYES",
                        "AccountType": "at_Other", "FatherAccountKey": None},
    "Warehouses": {"WarehouseCode": None, "WarehouseName": None, "Inactive": "tNO"},
}
KEYS = {"BusinessPartners": "CardCode", "Items": "ItemCode", "Invoices": "DocEntry",
        "CreditNotes": "DocEntry", "IncomingPayments": "DocEntry",
        "PaymentTermsTypes": "GroupNumber", "VatGroups": "Code", "WithholdingTaxCodes": "WTCode",
        "ChartOfAccounts": "Code", "Warehouses": "WarehouseCode"}
# Edm.Int32 properties whose template default (None) does not say so.
INT32 = frozenset({"DocEntry", "DocNum", "Series", "GroupNumber"})
# Edm.DateTime properties: a date, read in the forms the SL manual's "Query Properties of the
# Datetime Type" lists (2014-04-23, 20140423, 2014-04-23T12:21:21, 20140423000000; the time
# is ignored) and kept as YYYY-MM-DD. Whether a body takes other forms is UNVERIFIED.
DATES = frozenset({"DocDate", "DocDueDate", "TaxDate", "TransferDate", "CreateDate",
                   "UpdateDate"})
_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})(?:T?\d{2}:?\d{2}(?::?\d{2}(?:\.\d+)?)?Z?)?")
NUMBERED = frozenset({"Invoices", "CreditNotes", "IncomingPayments"})
VERSIONED = frozenset({"BusinessPartners", "Items", "Invoices", "CreditNotes"})
# Kept by SAP from the postings, never written by a client (refusing is the strict choice:
# the SL manual says read-only properties are "ignored silently" in a PATCH; which of these
# SL counts as read-only is UNVERIFIED). DataVersion (the ETag) and DocNum (the series' next
# number) are kept the same way.
READ_ONLY = frozenset({"CurrentAccountBalance", "DataVersion", "DocNum", "PaidToDate",
                       "DocumentStatus"})
# A document's totals follow its lines (a POST's are computed, whatever it sent); a PATCH of
# them without the lines is refused the same way (UNVERIFIED, as above).
TOTALS = frozenset({"DocTotal", "VatSum", "WTAmount", "WTApplied"})
# Columns of limited length, as SAP's tables declare them (OCRD: CardCode nvarchar(15),
# CardName 100, Address 100, ZipCode 20, Phone1 20, LicTradNum 32; a document's or payment's
# CardCode is the same 15; 3rd-party copies of the B1 schema, sap.erpref.com) and the type SL
# names in "Value too long in property 'CardCode' of 'Document'" (the DI wording; SL's code
# for it is UNVERIFIED, -1000 here).
LENGTHS: dict[str, tuple[str, dict[str, int]]] = {
    "BusinessPartners": ("BusinessPartner", {"CardCode": 15, "CardName": 100, "Address": 100,
                                             "ZipCode": 20, "Phone1": 20, "FederalTaxID": 32}),
    "Invoices": ("Document", {"CardCode": 15}), "CreditNotes": ("Document", {"CardCode": 15}),
    "IncomingPayments": ("Payment", {"CardCode": 15}),
}
_YES_NO = "BoYesNoEnum"
# The rows of the collections the store's rules read: the row type's name in the metadata and
# the properties the sandbox models (a subset of the type's, as TEMPLATES are), with their
# Edm types as :func:`_check` reads them.
ROWS: dict[str, tuple[str, dict[str, str]]] = {
    "DocumentLines": ("DocumentLine", {
        "LineNum": "Int32", "ItemCode": "String", "ItemDescription": "String",
        "Quantity": "Double", "Price": "Double", "UnitPrice": "Double",
        "DiscountPercent": "Double", "AccountCode": "String", "VatGroup": "String",
        "TaxCode": "String", "TaxTotal": "Double", "LineTotal": "Double", "WTLiable": _YES_NO,
        "PriceAfterVAT": "Double"}),
    "WithholdingTaxDataCollection": ("WithholdingTaxData", {
        "WTCode": "String", "WTAmount": "Double", "TaxableAmount": "Double"}),
    "PaymentInvoices": ("PaymentInvoice", {
        "LineNum": "Int32", "DocEntry": "Int32", "SumApplied": "Double",
        "InvoiceType": "String"}),
}
# Enumerations of the properties the rules read or keep, {member name: value}: SL takes either
# ("cCustomer" or "C", SL manual "Creating Entities") and answers the name; anything else is
# refused. BoCardTypes' values are the manual's; the others' are the database's one-letter
# codes (OCRD.validFor, OINV.DocType), UNVERIFIED as SL enum values.
ENUMS: dict[str, dict[str, str]] = {
    "BoCardTypes": {"cCustomer": "C", "cSupplier": "S", "cLid": "L"},
    "BoYesNoEnum": {"tNO": "N", "tYES": "Y"},
    "BoDocumentTypes": {"dDocument_Items": "I", "dDocument_Service": "S"},
}
_DOC_ENUMS = {"DocType": "BoDocumentTypes", "Cancelled": _YES_NO}
ENUM_PROPS: dict[str, dict[str, str]] = {
    "BusinessPartners": {"CardType": "BoCardTypes", "Valid": _YES_NO, "Frozen": _YES_NO},
    "Items": {name: _YES_NO for name in ("VatLiable", "WTLiable", "SalesItem", "InventoryItem",
                                         "Valid", "Frozen")},
    "Invoices": _DOC_ENUMS, "CreditNotes": _DOC_ENUMS, "IncomingPayments": {"Cancelled": _YES_NO},
}


def rate_on(lines: list[Record], day: str) -> Decimal | None:
    """The ``Rate`` of the line in force on ``day`` (``YYYY-MM-DD``): the latest whose
    ``Effectivefrom`` is not after it; None before the first."""
    dated = sorted((str(line.get("Effectivefrom") or "")[:10], line) for line in lines)
    current = [line for start, line in dated if start <= day]
    return _dec(current[-1].get("Rate")) if current else None


def etag(record: Record) -> str:
    return f'W/"{record["DataVersion"]}"'


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _dec(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


def _num(value: Any, what: str) -> Decimal:
    """A number the client sent (absent: 0); text, a boolean or a collection is a 400."""
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise SapError(400, -1000, f"{what}: {value!r} is not a number")
    number = Decimal(str(value))
    if abs(number) >= MAX_AMOUNT:
        raise SapError(400, -1000, f"{what}: {value} is out of range")
    return number


def _rows(record: Record, name: str) -> list[Record]:
    """A collection the client sent (absent: empty): a JSON array of objects whose rows, when
    :data:`ROWS` declares them, hold only its properties, each of its type; else a 400."""
    rows = record.get(name)
    if rows is None:
        return []
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise SapError(400, -1000, f"Property '{name}' must be a collection of objects")
    row_type, props = ROWS.get(name, ("", {}))
    for row in rows if row_type else ():
        for prop, value in row.items():
            if prop not in props:
                raise SapError(400, -1000, f"Property '{prop}' of '{row_type}' is invalid")
            row[prop] = _check(f"Property '{prop}' of '{row_type}'", props[prop], value)
    return rows


class Store:
    def __init__(self, db: aiosqlite.Connection, now: Callable[[], dt.datetime]) -> None:
        self.db, self.now = db, now
        # One write at a time, from its first read to its commit: the next DocEntry/DocNum,
        # the If-Match check and an invoice's PaidToDate are read and written in one
        # transaction, as SAP's database does; a refused write rolls back only itself.
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str, now: Callable[[], dt.datetime]) -> Store:
        db = await aiosqlite.connect(path)
        await db.execute("CREATE TABLE IF NOT EXISTS docs (entity_set TEXT, key TEXT, "
                         "seq INTEGER, body TEXT, PRIMARY KEY (entity_set, key))")
        await db.commit()
        return cls(db, now)

    async def close(self) -> None:
        await self.db.close()

    # -- reads ------------------------------------------------------------------------------
    async def all(self, entity_set: str) -> list[Record]:
        async with self.db.execute("SELECT body FROM docs WHERE entity_set = ? ORDER BY seq",
                                   (entity_set,)) as cursor:
            return [json.loads(row[0], parse_float=Decimal) for row in await cursor.fetchall()]

    async def get(self, entity_set: str, key: Any) -> Record:
        async with self.db.execute("SELECT body FROM docs WHERE entity_set = ? AND key = ?",
                                   (entity_set, str(key))) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise SapError(404, -2028, "No matching records found (ODBC -2028)")
        return json.loads(row[0], parse_float=Decimal)

    async def _save(self, entity_set: str, record: Record, *, new: bool) -> None:
        key = str(record[KEYS[entity_set]])
        body = json.dumps(record, default=_encode, ensure_ascii=False)
        if new:
            async with self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM docs "
                                       "WHERE entity_set = ?", (entity_set,)) as cursor:
                seq = (await cursor.fetchone())[0]  # type: ignore[index]
            await self.db.execute("INSERT INTO docs VALUES (?, ?, ?, ?)",
                                  (entity_set, key, seq, body))
        else:
            await self.db.execute("UPDATE docs SET body = ? WHERE entity_set = ? AND key = ?",
                                  (body, entity_set, key))

    # -- writes -----------------------------------------------------------------------------
    def _stamp(self, record: Record, *, created: bool) -> None:
        local = self.now()
        date, time = local.date().isoformat(), local.strftime("%H:%M:%S")
        if created:
            record["CreateDate"], record["CreateTime"] = date, time
        record["UpdateDate"], record["UpdateTime"] = date, time

    async def create(self, entity_set: str, body: Record) -> Record:
        async with self.lock:
            try:
                record = await self._create(entity_set, body)
            except BaseException:
                await self.db.rollback()
                raise
            await self.db.commit()
            return record

    async def _create(self, entity_set: str, body: Record) -> Record:
        template = TEMPLATES.get(entity_set)
        if template is None:
            raise SapError(404, -1000, f"Invalid entity set '{entity_set}'")
        body = copy.deepcopy(body)
        _known(entity_set, body, template)
        record = copy.deepcopy(template)
        record.update(body)
        key_name = KEYS[entity_set]
        if entity_set in NUMBERED:
            rows = await self.all(entity_set)
            record[key_name] = max((r[key_name] for r in rows), default=0) + 1
            record["DocNum"] = max((r["DocNum"] for r in rows), default=1000) + 1
        elif not record.get(key_name):
            raise SapError(400, -5002, f"Enter a value for '{key_name}'")
        else:
            try:
                await self.get(entity_set, record[key_name])
            except SapError:
                pass
            else:
                raise SapError(400, -2035, f"This entry already exists in the following "
                               f"tables ({entity_set}) (ODBC -2035)")
        if entity_set == "Items":
            record["ItemWarehouseInfoCollection"] = item_rows(record, await self._warehouses())
        if entity_set in ("Invoices", "CreditNotes", "BusinessPartners"):
            await self._terms(entity_set, record)
        if entity_set in ("Invoices", "CreditNotes"):
            _series(entity_set, record)
            await self._document(entity_set, record)
            sign = 1 if entity_set == "Invoices" else -1
            await self._move_balance(record["CardCode"], sign * _dec(record["DocTotal"]))
        elif entity_set == "IncomingPayments":
            received = await self._payment(record)
            await self._move_balance(record["CardCode"], -received)
        if "DataVersion" in template:
            record["DataVersion"] = 1
            self._stamp(record, created=True)
        await self._save(entity_set, record, new=True)
        return record

    async def patch(self, entity_set: str, key: Any, body: Record, if_match: str | None
                    ) -> Record:
        async with self.lock:
            try:
                record = await self._patch(entity_set, key, body, if_match)
            except BaseException:
                await self.db.rollback()
                raise
            await self.db.commit()
            return record

    async def _patch(self, entity_set: str, key: Any, body: Record, if_match: str | None
                     ) -> Record:
        if entity_set not in VERSIONED:
            raise SapError(400, -5006, f"Updating {entity_set} is not supported")
        record = await self.get(entity_set, key)
        body = copy.deepcopy(body)
        _known(entity_set, body, TEMPLATES[entity_set])
        if KEYS[entity_set] in body and str(body[KEYS[entity_set]]) != str(key):
            raise SapError(400, -5006, f"'{KEYS[entity_set]}' cannot be changed")
        totals = sorted(TOTALS & set(body)) if entity_set in OBJECT_CODES else []
        if totals:
            raise SapError(400, -5006, f"Property '{totals[0]}' of '{entity_set}' is read-only")
        if "ItemWarehouseInfoCollection" in body:  # the strict reading, see sandbox_stock.py
            raise SapError(400, -5006, "Updating ItemWarehouseInfoCollection is not supported")
        if if_match is not None and if_match != "*" and if_match != etag(record):
            raise SapError(412, -2039, "Another user or another operation modified data; to "
                           "continue, open the window again")
        record.update(body)
        if entity_set in ("Invoices", "CreditNotes") and "Series" in body:
            _series(entity_set, record)
        if entity_set in TABLES and set(body) & {"PaymentGroupCode", "PayTermsGrpCode"}:
            await self._terms(entity_set, record)
        if entity_set in ("Invoices", "CreditNotes") and "DocumentLines" in body:
            await self._document(entity_set, record)
        record["DataVersion"] += 1
        self._stamp(record, created=False)
        await self._save(entity_set, record, new=False)
        return record

    async def move_stock(self, item_code: str, warehouse: str, quantity: Decimal) -> Record:
        """An inventory posting of ``quantity`` units (negative: an issue); the item's update
        time and DataVersion stay as they are (sandbox_stock.py says why)."""
        async with self.lock:
            item = await self.get("Items", item_code)
            move_row(item, warehouse, Decimal(str(quantity)), await self._warehouses())
            await self._save("Items", item, new=False)
            await self.db.commit()
            return item

    # -- rules ------------------------------------------------------------------------------
    async def _warehouses(self) -> list[str]:
        return [w["WarehouseCode"] for w in await self.all("Warehouses")]

    async def _terms(self, entity_set: str, record: Record) -> None:
        """Payment terms that exist: -1 (none, "Cash Basic") or a PaymentTermsTypes' number;
        else -2028 as KB 2693418 shows a DI error for it: [OINV.GroupNum] , 'No matching
        records found (ODBC -2028)'."""
        name = "PayTermsGrpCode" if entity_set == "BusinessPartners" else "PaymentGroupCode"
        group = record.get(name)
        if group in (None, -1) or group in {t["GroupNumber"]
                                            for t in await self.all("PaymentTermsTypes")}:
            return
        raise SapError(400, -2028, f"[{TABLES[entity_set][0]}.GroupNum] , 'No matching "
                       "records found (ODBC -2028)'")

    async def _named(self, entity_set: str, doc: Record) -> Record:
        """The document's partner, once what the document names is known to exist: a
        customer's active card (KB 2693418: '(-10) 10001071 - Customer 123 is inactive'; a
        supplier's card is refused, SAP's wording UNVERIFIED), at least one line (wording
        UNVERIFIED) and, on an items document, each line's active item (the SDK's Documents:
        ItemCode is mandatory; KB 2693418: '(-10) 10001069 - Item XYZ is inactive'; an unknown
        one is -2028 here, UNVERIFIED). Inactive is Frozen tYES, as the client's Inactive
        button sets it; Valid tNO alone is not taken as inactive (UNVERIFIED)."""
        partner = await self._partner(doc.get("CardCode"))
        if partner.get("CardType") == "cSupplier":
            raise SapError(400, -5002, f"Business partner {partner['CardCode']} is a supplier; "
                           "a sales document needs a customer")
        if partner.get("Frozen") == "tYES":
            raise SapError(400, -10, f"10001071 - Customer {partner['CardCode']} is inactive")
        lines = _rows(doc, "DocumentLines")
        if not lines:
            raise SapError(400, -5002, "A document needs at least one line (DocumentLines)")
        if doc.get("DocType") != "dDocument_Items":
            return partner
        items = {i["ItemCode"]: i for i in await self.all("Items")}
        for number, line in enumerate(lines):
            item = items.get(line.get("ItemCode"))
            if not line.get("ItemCode"):
                raise SapError(400, -5002, f"Line {number}: enter an item code")
            if item is None:
                raise SapError(400, -2028, f"[{TABLES[entity_set][1]}.ItemCode][line: "
                               f"{number + 1}] , 'No matching records found (ODBC -2028)'")
            if item.get("Frozen") == "tYES":
                raise SapError(400, -10, f"10001069 - Item {item['ItemCode']} is inactive")
        return partner

    async def _document(self, entity_set: str, doc: Record) -> None:
        """Total ``doc`` from its lines, once :meth:`_named` found what it names."""
        partner = await self._named(entity_set, doc)
        doc["CardName"] = doc.get("CardName") or partner["CardName"]
        doc["FederalTaxID"] = doc.get("FederalTaxID") or partner["FederalTaxID"]
        doc["DocDate"] = doc.get("DocDate") or self.now().date().isoformat()
        day = str(doc["DocDate"])[:10]
        vat_rates = {g["Code"]: rate_on(g["VatGroups_Lines"], day)
                     for g in await self.all("VatGroups")}
        wt_rates = {w["WTCode"]: rate_on(w["WithholdingTaxCodes_Lines"], day)
                    for w in await self.all("WithholdingTaxCodes")}
        accounts = {a["Code"] for a in await self.all("ChartOfAccounts")}
        net = vat = wt_base = Decimal(0)
        for number, line in enumerate(_rows(doc, "DocumentLines")):
            group = line.get("VatGroup") or line.get("TaxCode")  # text: _rows typed the row
            rate = vat_rates.get(group)
            if rate is None:  # no such group, or no rate in force on the document date
                raise SapError(400, -5002, f"Line {number}: tax code {group!r} is not defined")
            if line.get("AccountCode") and line["AccountCode"] not in accounts:
                raise SapError(400, -5002, f"Line {number}: invalid G/L account "
                               f"{line['AccountCode']!r}")
            # As the Service Layer reads them back: UnitPrice (PriceBefDi) before the line
            # discount, Price after it. A line posted with Price only is taken as its list price.
            price = _num(line.get("UnitPrice", line.get("Price")), f"Line {number}: price")
            discount = _num(line.get("DiscountPercent"), f"Line {number}: DiscountPercent")
            quantity = _num(line.get("Quantity", 1), f"Line {number}: Quantity")
            total = quantity * price * (100 - discount) / 100
            if abs(total) >= MAX_AMOUNT:
                raise SapError(400, -1000, f"Line {number}: the line total is out of range")
            total = _money(total)
            tax = _money(total * rate / 100)
            after = (price * (100 - discount) / 100).quantize(Decimal("0.000001"))
            line.update({"LineNum": number, "Price": after, "UnitPrice": price,
                         "LineTotal": total, "TaxTotal": tax,
                         "WTLiable": line.get("WTLiable") or "tNO"})
            net, vat = net + total, vat + tax
            if line["WTLiable"] == "tYES":
                wt_base += total
        wt_total = Decimal(0)
        for wt in _rows(doc, "WithholdingTaxDataCollection"):
            wt_rate = wt_rates.get(wt.get("WTCode"))
            if wt_rate is None:
                raise SapError(400, -5002, f"Withholding code {wt.get('WTCode')!r} is not "
                               "defined")
            wt["TaxableAmount"] = wt_base
            wt["WTAmount"] = _money(wt_base * wt_rate / 100)
            wt_total += wt["WTAmount"]
        doc.update({"VatSum": vat, "WTAmount": wt_total, "WTApplied": wt_total,
                    "DocTotal": net + vat - wt_total})
        doc["DocDueDate"] = doc.get("DocDueDate") or doc["DocDate"]
        doc["TaxDate"] = doc.get("TaxDate") or doc["DocDate"]

    async def _partner(self, card_code: Any) -> Record:
        try:
            return await self.get("BusinessPartners", card_code)
        except SapError:
            raise SapError(400, -5002, f"Invalid BP code '{card_code}'") from None

    async def _move_balance(self, card_code: str, amount: Decimal) -> None:
        """The partner's receivable balance moves with a posting; its card is not edited, so
        neither its DataVersion nor its update time change."""
        partner = await self._partner(card_code)
        partner["CurrentAccountBalance"] = _dec(partner.get("CurrentAccountBalance")) + amount
        await self._save("BusinessPartners", partner, new=False)

    async def _payment(self, payment: Record) -> Decimal:
        """Apply the payment to its invoices; returns the amount received."""
        partner = await self._partner(payment.get("CardCode"))
        # Only a customer's receipt is modelled; SAP's answer to another DocType, or to a
        # rCustomer receipt of a supplier card, is UNVERIFIED: refused here (strict).
        if payment.get("DocType") != "rCustomer" or partner.get("CardType") != "cCustomer":
            raise SapError(400, -5002, f"DocType {payment.get('DocType')!r} for business "
                           f"partner {partner['CardCode']} ({partner.get('CardType')}) is not "
                           "supported here")
        payment["CardName"] = partner["CardName"]
        payment["DocDate"] = payment.get("DocDate") or self.now().date().isoformat()
        lines = _rows(payment, "PaymentInvoices")
        applied = sum((_num(p.get("SumApplied"), "SumApplied") for p in lines), Decimal(0))
        transfer = _num(payment.get("TransferSum"), "TransferSum")
        received = _num(payment.get("CashSum"), "CashSum") + transfer
        if received <= 0:
            raise SapError(400, -5002, "Enter a payment amount (cash or transfer)")
        if transfer > 0 and not payment.get("TransferAccount"):
            raise SapError(400, -5002, "Enter a G/L account for the bank transfer")
        account = payment.get("TransferAccount")
        if account and (not isinstance(account, str) or account not in {
                a["Code"] for a in await self.all("ChartOfAccounts")}):
            raise SapError(400, -5002, f"Invalid G/L account {payment['TransferAccount']!r} "
                           "for the bank transfer")
        if applied > received:
            raise SapError(400, -5002, "Total applied exceeds the amount received")
        invoices: list[tuple[str, Record, Decimal]] = []
        for number, line in enumerate(lines):
            kind = line.get("InvoiceType", "it_Invoice")
            entity_set = {"it_Invoice": "Invoices", "it_CredItnote": "CreditNotes"}.get(kind)
            if entity_set is None:
                raise SapError(400, -5002, f"Invoice type {kind!r} is not supported here")
            doc = await self.get(entity_set, line.get("DocEntry"))
            if doc["CardCode"] != partner["CardCode"]:
                raise SapError(400, -5002, f"Document {doc['DocNum']} belongs to another BP")
            if doc["DocumentStatus"] != "bost_Open" or doc["Cancelled"] == "tYES":
                raise SapError(400, -5002, f"Document {doc['DocNum']} is closed")
            amount = _num(line.get("SumApplied"), "SumApplied")
            if amount <= 0 or amount > _dec(doc["DocTotal"]) - _dec(doc["PaidToDate"]):
                raise SapError(400, -5002, f"Amount applied to document {doc['DocNum']} "
                               "exceeds its open balance")
            line.update({"LineNum": number, "InvoiceType": kind, "SumApplied": amount})
            invoices.append((entity_set, doc, amount))
        for entity_set, doc, amount in invoices:
            doc["PaidToDate"] = _dec(doc["PaidToDate"]) + amount
            if doc["PaidToDate"] >= _dec(doc["DocTotal"]):
                doc["DocumentStatus"] = "bost_Close"
            doc["DataVersion"] += 1
            self._stamp(doc, created=False)
            await self._save(entity_set, doc, new=False)
        return received


def _series(entity_set: str, doc: Record) -> None:
    """A document is numbered in a series of its object; without one, its default series.
    (A series of another object, or none, is refused: SAP's wording is UNVERIFIED.)"""
    mine = [s for s in SERIES if s["Document"] == OBJECT_CODES[entity_set]]
    if doc.get("Series") is None:
        doc["Series"] = next(s["Series"] for s in mine if s["PeriodIndicator"] == "Default")
    elif doc["Series"] not in [s["Series"] for s in mine]:
        raise SapError(400, -5002, f"Series {doc['Series']!r} is not defined for this document "
                       "type")


def _declared_kind(entity_set: str, name: str) -> str | None:
    """The type a property is declared with beyond its template default: an enumeration of
    :data:`ENUM_PROPS`, or DateTime for a name in :data:`DATES`; None otherwise."""
    return ENUM_PROPS.get(entity_set, {}).get(name) or ("DateTime" if name in DATES else None)


def filter_literal(entity_set: str, name: str, value: Any) -> Any:
    """A $filter literal as SL reads it for the property (SL manual, "Query Properties of the
    Enumeration Type" / "... of the Datetime Type"): an enumeration's value as its member's
    name, a date in a form of :data:`DATES` as YYYY-MM-DD; anything else as written."""
    kind = _declared_kind(entity_set, name)
    if kind is None or not isinstance(value, str):
        return value
    try:
        return _check(name, kind, value)
    except SapError:
        return value


def _known(entity_set: str, body: Record, template: Record) -> None:
    """Every property of a POST or PATCH body is one of the entity's, writable, and of its
    type (:func:`_typed`), before anything is written; ``body`` (the store's own copy) is left
    as SL reads it (an enumeration's value becomes its member's name)."""
    for name, value in body.items():
        if name in READ_ONLY:
            raise SapError(400, -5006, f"Property '{name}' of '{entity_set}' is read-only")
        if name not in template:
            raise SapError(400, -1000, f"Property '{name}' of '{entity_set}' is invalid")
        body[name] = _typed(entity_set, name, value, template[name])


def _typed(entity_set: str, name: str, value: Any, default: Any) -> Any:
    """``value`` as a value of the property's type in the metadata (SAPB1-v1.edmx): an
    enumeration of :data:`ENUM_PROPS`, else the template's default tells: a list is a
    collection, a Decimal Edm.Double, an int (or a name in :data:`INT32`) Edm.Int32; anything
    else (Edm.String, Edm.DateTime / Edm.Time as text) is a string."""
    if isinstance(default, list) or name == "ItemWarehouseInfoCollection":
        return _rows({name: value}, name) if value is not None else None
    whole = name in INT32 or (isinstance(default, int) and not isinstance(default, bool))
    kind = _declared_kind(entity_set, name) or (
        "Double" if isinstance(default, Decimal) else "Int32" if whole else "String")
    value = _check(f"Property '{name}' of '{entity_set}'", kind, value)
    type_name, lengths = LENGTHS.get(entity_set, ("", {}))
    if isinstance(value, str) and len(value) > lengths.get(name, len(value)):
        raise SapError(400, -1000, f"Value too long in property '{name}' of '{type_name}'")
    return value


def _check(what: str, kind: str, value: Any) -> Any:
    """``value`` if it is of type ``kind`` (``String``, ``Int32``, ``Double``, ``DateTime``
    as YYYY-MM-DD or an enumeration of :data:`ENUMS`, as its member's name) or null (the
    properties are Nullable): text for a string, a whole number in range for an Int32, a
    number for a Double (:func:`_num`), a date in a form of :data:`DATES` for a DateTime, a
    member's name or value for an enumeration. A number for a string or text
    for a number is refused as SL refuses a property of the wrong type; SL's wording and
    whether it takes an Int32 written 2.0 are UNVERIFIED (refused: the strict reading)."""
    if value is None:
        return None
    if kind == "Double":
        _num(value, what)
    elif kind == "Int32":
        if isinstance(value, bool) or not isinstance(value, int) \
                or not -2**31 <= value < 2**31:
            raise SapError(400, -1000, f"{what}: {value!r} is not an Edm.Int32")
    elif not isinstance(value, str):
        raise SapError(400, -1000, f"{what}: {value!r} is not an Edm.String")
    elif kind == "DateTime":
        match = _DATE.fullmatch(value)
        try:
            if match is None:
                raise ValueError(value)
            return dt.date(*map(int, match.groups())).isoformat()
        except ValueError:
            raise SapError(400, -1000, f"{what}: {value!r} is not a date") from None
    elif kind in ENUMS:
        members = ENUMS[kind]
        name = value if value in members else next(
            (member for member, code in members.items() if code == value), None)
        if name is None:
            raise SapError(400, -1000, f"{what}: {value!r} is not a member of {kind}")
        return name
    return value


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral() else int(value)
    raise TypeError(f"cannot store {type(value).__name__}")
