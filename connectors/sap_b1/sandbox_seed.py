"""Spanish seed data for the SAP sandbox: VAT groups, withholding codes, G/L accounts,
payment terms, partners, warehouses, items with stock, documents, a payment."""
from __future__ import annotations

from decimal import Decimal

from connectors.sap_b1.sandbox_store import ACCOUNTS, VAT_GROUPS, WAREHOUSES, WT_CODES, Store

__all__ = ["seed"]

# Rates in force since the 2012 rise (21 %, 10 %; recargo 5.2 %, 1.4 %).
SINCE = "2012-09-01"
VAT_NAMES = {"R3": "IVA repercutido 21%", "R2": "IVA repercutido 10%",
             "R1": "IVA repercutido 4%", "R0": "IVA repercutido 0%", "RX": "Exento de IVA",
             "RIC": "Entrega intracomunitaria de bienes", "RIS": "Servicio intracomunitario",
             "RISP": "Inversión del sujeto pasivo", "REX": "Exportación",
             "RE3": "Recargo de equivalencia 5,2%", "RE2": "Recargo de equivalencia 1,4%",
             "RE1": "Recargo de equivalencia 0,5%"}
WT_NAMES = {"IR15": "Retención IRPF 15%", "IR07": "Retención IRPF 7%",
            "IR19": "Retención 19% (arrendamientos)"}
TERMS = [(1, "Contado", 0), (2, "60 días", 60), (3, "30 días", 30)]
PARTNERS = [
    {"CardCode": "C0001", "CardName": "Ferretería Martínez S.L.", "CardType": "cCustomer",
     "FederalTaxID": "B12345678", "EmailAddress": "pagos@ferreteria-martinez.es",
     "Phone1": "+34 960 111 222", "Address": "Calle Mayor 1", "ZipCode": "46001",
     "City": "Valencia", "County": "Valencia", "Country": "ES", "PayTermsGrpCode": 2,
     "VatGroup": "R3", "BPBankAccounts": [{"BankCode": "0182", "IBAN":
                                           "ES9121000418450200051332"}]},
    {"CardCode": "C0002", "CardName": "Asesoría Jurídica Pérez", "CardType": "cCustomer",
     "FederalTaxID": "B87654323", "EmailAddress": "admin@asesoriaperez.es",
     "Address": "Gran Vía 28", "ZipCode": "28013", "City": "Madrid", "Country": "ES",
     "PayTermsGrpCode": 3, "VatGroup": "R3"},
    {"CardCode": "C0003", "CardName": "Bodegas Ribera S.A.", "CardType": "cCustomer",
     "FederalTaxID": "A47000005", "Address": "Carretera de Roa km 3", "ZipCode": "09300",
     "City": "Roa", "Country": "ES", "PayTermsGrpCode": 1, "VatGroup": "R3"},
    {"CardCode": "P0001", "CardName": "Suministros Levante S.L.", "CardType": "cSupplier",
     "FederalTaxID": "B46000006", "Address": "Polígono Fuente del Jarro 12",
     "ZipCode": "46988", "City": "Paterna", "Country": "ES", "PayTermsGrpCode": 3,
     "SubjectToWithholdingTax": "tNO"},
]
# Units on hand after the opening balance: (item, warehouse, units).
STOCK = [("A0001", "01", Decimal(120)), ("A0001", "02", Decimal(15)),
         ("A0002", "01", Decimal(48))]
ITEMS = [
    {"ItemCode": "A0001", "ItemName": "Tornillo hexagonal M8 (caja 100)", "BarCode":
     "8412345000011", "SalesVATGroup": "R3", "IncomeAccount": "70000000",
     "ItemPrices": [{"PriceList": 1, "Price": Decimal("12.50"), "Currency": "EUR"}]},
    {"ItemCode": "A0002", "ItemName": "Aceite de girasol 1 L", "SalesVATGroup": "R2",
     "IncomeAccount": "70000000",
     "ItemPrices": [{"PriceList": 1, "Price": Decimal("8.50"), "Currency": "EUR"}]},
    {"ItemCode": "S0001", "ItemName": "Hora de consultoría", "SalesVATGroup": "R3",
     "InventoryItem": "tNO", "WTLiable": "tYES", "IncomeAccount": "70500000",
     "ItemPrices": [{"PriceList": 1, "Price": Decimal("60.00"), "Currency": "EUR"}]},
]


async def seed(store: Store) -> None:
    for code, rate in VAT_GROUPS.items():
        await store.create("VatGroups", {"Code": code, "Name": VAT_NAMES[code],
                                         "VatGroups_Lines": [{"Effectivefrom": SINCE,
                                                              "Rate": rate}]})
    for code, rate in WT_CODES.items():
        await store.create("WithholdingTaxCodes", {
            "WTCode": code, "WTName": WT_NAMES[code], "Account": "47300000",
            "WithholdingTaxCodes_Lines": [{"Effectivefrom": SINCE, "Rate": rate}]})
    for code, name in ACCOUNTS.items():
        await store.create("ChartOfAccounts", {"Code": code, "Name": name})
    for code, name in WAREHOUSES.items():
        await store.create("Warehouses", {"WarehouseCode": code, "WarehouseName": name})
    for number, name, days in TERMS:
        await store.create("PaymentTermsTypes", {"GroupNumber": number,
                                                 "PaymentTermsGroupName": name,
                                                 "NumberOfAdditionalDays": days})
    for partner in PARTNERS:
        await store.create("BusinessPartners", partner)
    for item in ITEMS:
        await store.create("Items", item)
    for item_code, warehouse, units in STOCK:
        await store.move_stock(item_code, warehouse, units)
    await store.create("Invoices", {
        "CardCode": "C0001", "DocDate": "2026-11-02", "DocDueDate": "2027-01-01",
        "NumAtCard": "PED-2026-118", "PaymentGroupCode": 2, "DocumentLines": [
            {"ItemCode": "A0001", "Quantity": 40, "Price": Decimal("12.50"), "VatGroup": "R3",
             "AccountCode": "70000000"},
            {"ItemCode": "A0002", "Quantity": 12, "Price": Decimal("8.50"),
             "DiscountPercent": 5, "VatGroup": "R2", "AccountCode": "70000000"}]})
    await store.create("Invoices", {
        "CardCode": "C0002", "DocDate": "2026-11-05", "DocDueDate": "2026-12-05",
        "PaymentGroupCode": 3, "DocumentLines": [
            {"ItemCode": "S0001", "Quantity": 10, "Price": Decimal("60.00"), "VatGroup": "R3",
             "AccountCode": "70500000", "WTLiable": "tYES"}],
        "WithholdingTaxDataCollection": [{"WTCode": "IR15"}]})
    third = await store.create("Invoices", {
        "CardCode": "C0003", "DocDate": "2026-11-06", "DocDueDate": "2026-11-06",
        "PaymentGroupCode": 1, "DocumentLines": [
            {"ItemCode": "A0002", "Quantity": 100, "Price": Decimal("8.50"), "VatGroup": "R2",
             "AccountCode": "70000000"}]})
    await store.create("CreditNotes", {
        "CardCode": "C0001", "Series": 2, "DocDate": "2026-11-10",
        "Comments": "Abono por devolución",
        "DocumentLines": [{"ItemCode": "A0001", "Quantity": 2, "Price": Decimal("12.50"),
                           "VatGroup": "R3", "AccountCode": "70800000"}]})
    await store.create("IncomingPayments", {
        "CardCode": "C0003", "DocDate": "2026-11-06", "TransferSum": third["DocTotal"],
        "TransferAccount": "57200000", "TransferDate": "2026-11-06",
        "TransferReference": "TRF-RIBERA-01", "PaymentInvoices": [
            {"DocEntry": third["DocEntry"], "SumApplied": third["DocTotal"],
             "InvoiceType": "it_Invoice"}]})
