"""Start an ERP or shop sandbox and the settings that point its connector at it.

Shared by the demo and the end-to-end tests. Sandboxes are reached only from tests, benchmarks
and the CLI (`demo`, `sandbox`), never from the worker's own code paths.
"""
from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings

__all__ = ["ERP_SYSTEMS", "connector_settings", "start_erp_sandbox", "worker_env"]

ERP_SYSTEMS = ("odoo", "business_central", "sap_b1", "prestashop", "shopify")


async def start_erp_sandbox(system: str) -> tuple[Any, dict[str, BaseSettings]]:
    """(running sandbox, {settings field: connector settings}) for ``system``."""
    if system == "odoo":
        from connectors.odoo.sandbox import start_odoo_sandbox as start
    elif system == "business_central":
        from connectors.business_central.sandbox import start_bc_sandbox as start
    elif system == "sap_b1":
        from connectors.sap_b1.sandbox import start_sap_sandbox as start
    elif system == "prestashop":
        from connectors.prestashop.sandbox import start_prestashop_sandbox as start
    elif system == "shopify":
        from connectors.shopify.sandbox import start_shopify_sandbox as start
    else:
        raise ValueError(f"no sandbox for {system!r}; one of {', '.join(ERP_SYSTEMS)}")
    sb = await start(port=0)
    return sb, {system: connector_settings(system, sb)}


def connector_settings(system: str, sb: Any) -> BaseSettings:
    """The settings that point ``system``'s connector at the running sandbox ``sb``."""
    from app import settings as s

    if system == "odoo":
        return s.OdooSettings(url=sb.url, db=sb.db, login="admin", api_key="sandbox-key")
    if system == "business_central":
        return s.BusinessCentralSettings(
            api_url=sb.url, token_url=sb.token_url, tenant=sb.tenant, environment=sb.environment,
            company_id=sb.company_id, client_id=sb.client_id, client_secret=sb.client_secret)
    if system == "sap_b1":
        from connectors.sap_b1.sandbox import PASSWORD, USER

        return s.SapB1Settings(base_url=sb.url, company_db=sb.company_db, username=USER,
                               password=PASSWORD)
    if system == "prestashop":
        from connectors.prestashop.sandbox import KEY

        return s.PrestaShopSettings(url=sb.url, api_key=KEY, requests_per_second=50)
    if system == "shopify":
        return s.ShopifySettings(shop_url=sb.url, access_token=sb.access_token,
                                 app_secret=sb.app_secret, api_version=sb.api_version)
    raise ValueError(f"no sandbox for {system!r}; one of {', '.join(ERP_SYSTEMS)}")


def worker_env(system: str, sb: Any) -> str:
    """The environment a worker reads to use the running sandbox ``sb`` for ``system``, as one
    line of NAME=value pairs (the sandboxes' start banner prints it)."""
    conn = connector_settings(system, sb)
    prefix = conn.model_config["env_prefix"]
    pairs = [f"HOLDED_SYNC_SYSTEMS=holded,{system}"]
    for name in type(conn).model_fields:
        if name in conn.model_fields_set:
            value = getattr(conn, name)
            value = value.get_secret_value() if isinstance(value, SecretStr) else value
            pairs.append(f"{prefix}{name.upper()}={value}")
    return " ".join(pairs)
