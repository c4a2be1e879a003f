"""Start an ERP or shop sandbox and the settings that point its connector at it.

Shared by the demo and the end-to-end tests. Sandboxes are reached only from tests, benchmarks
and the CLI (`demo`, `sandbox`), never from the worker's own code paths.
"""
from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings

__all__ = ["ERP_SYSTEMS", "start_erp_sandbox"]

ERP_SYSTEMS = ("odoo", "business_central", "sap_b1", "prestashop", "shopify")


async def start_erp_sandbox(system: str) -> tuple[Any, dict[str, BaseSettings]]:
    """(running sandbox, {settings field: connector settings}) for ``system``."""
    from app import settings as s

    if system == "odoo":
        from connectors.odoo.sandbox import start_odoo_sandbox

        sb = await start_odoo_sandbox(port=0)
        return sb, {"odoo": s.OdooSettings(url=sb.url, db=sb.db, login="admin", api_key="sandbox-key")}
    if system == "business_central":
        from connectors.business_central.sandbox import start_bc_sandbox

        sb = await start_bc_sandbox(port=0)
        return sb, {"business_central": s.BusinessCentralSettings(
            api_url=sb.url, token_url=sb.token_url, tenant=sb.tenant, environment=sb.environment,
            company_id=sb.company_id, client_id=sb.client_id, client_secret=sb.client_secret)}
    if system == "sap_b1":
        from connectors.sap_b1.sandbox import start_sap_sandbox

        sb = await start_sap_sandbox(port=0)
        return sb, {"sap_b1": s.SapB1Settings(base_url=sb.url, company_db="SBODEMOES",
                                              username="manager", password="sandbox-pass")}
    if system == "prestashop":
        from connectors.prestashop.sandbox import KEY, start_prestashop_sandbox

        sb = await start_prestashop_sandbox(port=0)
        return sb, {"prestashop": s.PrestaShopSettings(url=sb.url, api_key=KEY, requests_per_second=50)}
    if system == "shopify":
        from connectors.shopify.sandbox import start_shopify_sandbox

        sb = await start_shopify_sandbox(port=0)
        return sb, {"shopify": s.ShopifySettings(shop_url=sb.url, access_token=sb.access_token,
                                                 app_secret=sb.app_secret, api_version=sb.api_version)}
    raise ValueError(f"no sandbox for {system!r}; one of {', '.join(ERP_SYSTEMS)}")
