"""Settings: one root model read from the environment (and an optional YAML file).

Secrets are ``SecretStr``: they print as ``**********`` and never reach logs or errors.
"""
from __future__ import annotations

import datetime as dt
import difflib
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["BusinessCentralSettings", "HoldedSettings", "OdooSettings", "PrestaShopSettings",
           "SYSTEMS", "SapB1Settings", "Settings", "ShopifySettings", "comma_list", "load_settings",
           "settings_error", "system_name"]

# The systems HOLDED_SYNC_SYSTEMS may name: Holded, the connectors, and "file", the source fed
# by `holded-sync ingest FILE --system file` only. Any other name would be taken for an ERP
# (commands.<name>, app/core/policy.py) that nothing writes to, so it is refused.
CONNECTORS = ("holded", "odoo", "business_central", "sap_b1", "prestashop", "shopify")
SYSTEMS = (*CONNECTORS, "file")
_ENTITIES = ("contact", "product", "invoice", "payment")


def _record_fields(entity: str) -> list[str]:
    """The top-level fields of a canonical record (schemas/<Entity>.avsc): what merges field
    by field, and so what can have an owner."""
    import json

    from app.avro import SCHEMA_DIR

    schema = json.loads((SCHEMA_DIR / f"{entity.capitalize()}.avsc").read_text(encoding="utf-8"))
    return [f["name"] for f in schema["fields"]]


def system_name(text: str | None) -> str | None:
    """A system named on the command line, in the topics' spelling: ``business-central`` and
    ``sap-b1`` (as `demo --erp` and `sandbox` spell them) are ``business_central`` and
    ``sap_b1``. Any other text is returned as given, for the caller to refuse."""
    if text is None:
        return None
    underscored = text.replace("-", "_")
    return underscored if underscored in SYSTEMS else text


def _unknown_system(name: str) -> str:
    """What is wrong with ``name``, suggesting the known system it is close to, if any."""
    plain = name.strip().lower().replace("-", "_").replace(" ", "_")
    near = [plain] if plain in SYSTEMS else difflib.get_close_matches(plain, SYSTEMS, n=1, cutoff=0.6)
    if not near:  # sapb1, presta, bc...: a known name with its separators dropped, or a start
        squashed = plain.replace("_", "")
        near = [s for s in SYSTEMS if squashed and (s.replace("_", "") == squashed
                                                     or s.startswith(squashed))][:1]
    hint = f" (did you mean {near[0]}?)" if near else ""
    return f"unknown system {name!r}{hint}; the systems are {', '.join(SYSTEMS)}"


def comma_list(value: Any) -> Any:
    """A setting given as ``a, b,c`` in the environment: its non-blank items, as a tuple."""
    if isinstance(value, str):
        return tuple(s.strip() for s in value.split(",") if s.strip())
    return value


class HoldedSettings(BaseSettings):
    """Holded's API, named as the Holded connector issue asks (no prefix)."""

    model_config = SettingsConfigDict(env_prefix="HOLDED_", extra="ignore")
    api_url: str = "https://api.holded.com/api"
    api_key: SecretStr | None = None
    api_version: Literal["v1", "v2"] = "v1"
    requests_per_second: float = 5.0
    # The sliding window (seconds) the rate is counted over; the limiter never puts more than
    # rate x window requests in one: each request holds one of rate x window slots from its
    # send until a window after its response. Holded's real window is UNVERIFIED; the
    # sandbox uses 1 s.
    rate_window_s: float = 1.0
    # Seconds a slot is held beyond that window: a margin for Holded's clock running faster
    # than ours, not for network jitter (the slots already cover any latency).
    rate_jitter_s: float = 0.005
    # After a create with an unknown outcome (timeout, dropped connection, 5xx): the least
    # wait before searching for it, so a request still queued at Holded is seen, not repeated.
    unknown_outcome_settle_s: float = 5.0
    # Canonical document types created approved (issued) in Holded, with the ERP's number
    # (comma-separated: invoice, credit_note, sales_receipt). Empty: every document is created
    # a draft. An ERP draft of such a type waits until the ERP issues it; an approved Holded
    # document is never written again (docs/holded.md, "Approved documents").
    approve_documents: Annotated[tuple[Literal["invoice", "credit_note", "sales_receipt"], ...],
                                 NoDecode] = ()
    # Paying a Holded draft approves it with Holded's next number, for good (UNVERIFIED,
    # docs/holded.md §4). False: a payment of a draft is parked for review, nothing paid;
    # true: it is paid, and its result names the number Holded gave.
    pay_drafts: bool = False
    # A Holded payment that names a customer and no document is a payment on account, written
    # to the ERPs as an unapplied customer payment (docs/holded.md §4). False: skipped.
    payments_on_account: bool = True
    # The poller also reads products with their stock per warehouse (docs/holded.md §9), for
    # companies whose inventory lives in Holded: a product listing and one stock read per
    # warehouse every poll, which tenants without inventory do not want to pay for.
    read_stock: bool = False
    # The poller (docs/holded.md §4 and §6). Holded filters documents and payments by their
    # date, not by when they changed: each run re-reads the last ``*_overlap`` of them by date,
    # and every ``rescan_every`` it lists everything, which also finds payments deleted in
    # Holded. ``poll_documents``: the canonical document types it reads (as approve_documents
    # names them); webhooks of other types are ignored.
    poll_documents: Annotated[tuple[Literal["invoice", "credit_note", "sales_receipt"], ...],
                              NoDecode] = Field(("invoice", "credit_note"), min_length=1)
    document_overlap: dt.timedelta = dt.timedelta(days=2)  # seconds, or ISO 8601 (P2D)
    payment_overlap: dt.timedelta = dt.timedelta(days=2)
    rescan_every: dt.timedelta = dt.timedelta(days=1)
    # v2 webhooks (docs/holded.md §5-6): the signing secret shown when the webhook is created
    # in Holded (unset: no webhook receiver). How Holded signs and names a delivery is
    # UNVERIFIED, hence the settings: the header carrying the HMAC-SHA256, its encoding, a
    # timestamp header if Holded signs "<timestamp>.<body>" (then a delivery further than the
    # tolerance from our clock is refused as forged), the header with the delivery id (the
    # de-duplication key) and the largest body accepted (larger: 413).
    webhook_secret: SecretStr | None = None
    webhook_signature_header: str = Field("x-holded-signature", min_length=1)
    webhook_signature_encoding: Literal["auto", "hex", "base64"] = "auto"
    webhook_timestamp_header: str | None = None
    webhook_tolerance: dt.timedelta = dt.timedelta(minutes=5)  # seconds, or ISO 8601 (PT5M)
    webhook_delivery_header: str = Field("x-holded-delivery-id", min_length=1)
    webhook_max_bytes: int = Field(256 * 1024, ge=1)
    # The signature header's former name (HOLDED_WEBHOOK_HEADER): used when the one above is
    # not set.
    webhook_header: str | None = Field(None, min_length=1)

    @field_validator("webhook_tolerance", "document_overlap", "payment_overlap", "rescan_every",
                     mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        if isinstance(value, str):  # "300" from the environment: seconds, as a number would be
            try:
                return float(value)
            except ValueError:
                return value
        return value

    @field_validator("webhook_tolerance", "rescan_every")
    @classmethod
    def _positive(cls, value: dt.timedelta) -> dt.timedelta:
        if value <= dt.timedelta(0):
            raise ValueError("must be more than 0 seconds")
        return value

    @field_validator("document_overlap", "payment_overlap")
    @classmethod
    def _not_negative(cls, value: dt.timedelta) -> dt.timedelta:
        if value < dt.timedelta(0):
            raise ValueError("must be 0 seconds or more")
        return value

    @field_validator("approve_documents", "poll_documents", mode="before")
    @classmethod
    def _doc_types(cls, value: Any) -> Any:
        return comma_list(value)

    @field_validator("webhook_timestamp_header", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _former_header_name(self) -> HoldedSettings:
        if self.webhook_header and "webhook_signature_header" not in self.model_fields_set:
            self.webhook_signature_header = self.webhook_header
        return self


class OdooSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ODOO_", extra="ignore")
    url: str = ""  # required with the API key, as db and login (app/connections.py)
    db: str = ""
    login: str = ""
    api_key: SecretStr | None = None
    protocol: Literal["jsonrpc", "xmlrpc", "json2"] = "jsonrpc"
    # Shared token an Odoo server action sends as X-Holded-Sync-Token (Odoo signs nothing).
    webhook_token: SecretStr | None = None


class BusinessCentralSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BC_", extra="ignore")
    api_url: str = "https://api.businesscentral.dynamics.com"
    token_url: str | None = None
    tenant: str = ""
    environment: str = "production"
    company_id: str = ""
    client_id: str = ""
    client_secret: SecretStr | None = None
    # clientState of our webhook subscriptions: BC echoes it in every notification.
    client_state: SecretStr | None = None
    # Public URL of this deployment's /webhooks/business_central; with client_state set, the
    # leader keeps one subscription per entity set alive (renewed before the 3-day expiry).
    notification_url: str | None = None
    subscription_check_s: float = Field(600.0, gt=0)


class SapB1Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAP_B1_", extra="ignore")
    base_url: str = "https://localhost:50000/b1s/v1"
    company_db: str = ""
    username: str = ""
    password: SecretStr | None = None
    zone: str = "Europe/Madrid"  # the Service Layer server's local time (UpdateDate/UpdateTime)
    transfer_account: str | None = None  # G/L account of bank transfers for IncomingPayments
    direct_rate: bool = True  # the company quotes DocRate as local units per foreign unit
    # How often every inventory item's stock is read again (a stock movement may leave the
    # item's UpdateDate alone; docs/sap_b1.md, Stock); only while SAP warehouses are mapped.
    stock_interval_s: float = Field(300.0, ge=0)


class PrestaShopSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRESTASHOP_", extra="ignore")
    url: str = ""  # the shop's address; required with the API key
    api_key: SecretStr | None = None
    shop_timezone: str = "Europe/Madrid"  # PrestaShop dates are shop-local
    invoice_prefix: str = "WEB"
    requests_per_second: float = 5.0
    # Products reach the shop, and the quantity for sale of the product with their SKU is set
    # from their level in the mapping's systems.prestashop.stock_warehouse (docs/prestashop.md,
    # Stock); the key needs GET products and combinations, GET/PUT stock_availables.
    write_stock: bool = False
    # Shared token a shop module sends as X-Holded-Sync-Token with its push to
    # /webhooks/prestashop (PrestaShop signs nothing); unset: no push receiver, polls only.
    webhook_token: SecretStr | None = None


class ShopifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPIFY_", extra="ignore")
    shop_url: str = ""
    access_token: SecretStr | None = None
    app_secret: SecretStr | None = None  # verifies webhook HMACs
    api_version: str = "2025-01"
    order_documents: Literal["invoice", "sales_receipt"] = "invoice"
    shop_timezone: str = "Europe/Madrid"  # documents are dated by the shop's calendar day
    # Products reach the shop, and their stock is set as each variant's available quantity at
    # the locations systems.shopify.warehouses maps (docs/shopify.md, Sink); needs the
    # write_inventory access scope.
    write_stock: bool = False

    @field_validator("shop_url")
    @classmethod
    def _https(cls, value: str) -> str:
        """The shop's address as Shopify's admin shows it (mystore.myshopify.com) is taken as
        https://mystore.myshopify.com: the Admin API is HTTPS only."""
        value = value.strip()
        if value and "://" not in value:
            value = f"https://{value}"
        if value and not value.lower().startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not a shop URL; use https://<shop>.myshopify.com")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOLDED_SYNC_", env_nested_delimiter="__",
                                      extra="ignore")

    broker: str = "kafka://127.0.0.1:9092"
    app_id: str = "holded-sync"
    topic_prefix: str = ""
    # A replay rebuilds the tables under a new generation (new consumer group, new changelogs,
    # new local store) while the old one keeps serving; see `holded-sync replay`.
    generation: int = Field(0, ge=0)
    partitions: int = Field(8, ge=1, le=1024)
    # False for a replay's workers: they rebuild the tables and leave the commands to the
    # generation's sinks, which start when every worker is switched to it (docs/scaling.md).
    run_sinks: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    store: str = "rocksdb://"  # faust picks the rocksdict binding (a wheel) when installed
    # Standby replicas of each table partition kept warm on other workers: a survivor of a
    # crash takes over its partitions without re-reading their changelogs (docs/scaling.md).
    standby_replicas: int = Field(1, ge=0)
    data_dir: Path = Path("/var/lib/holded-sync")
    systems: Annotated[tuple[str, ...], NoDecode] = ("holded", "file")
    # Per-field owners: the system whose value wins a conflict on that field, over the
    # defaults (Holded owns invoice payment state; a single ERP owns product prices), e.g.
    # "contact.payment_due_days=odoo,contact.tax_id=holded" (docs/operations.md, "Conflicts").
    field_owners: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    log_level: str = "info"
    # Faust's session timeout bounds how long a rebalance after a crash takes.
    session_timeout_s: float = 30.0
    # Static group membership (Kafka KIP-345): a stable, unique id per worker, e.g. the
    # StatefulSet pod name. A worker restarted within session_timeout_s gets its partitions back
    # without a rebalance of the others; one that dies leaves them unread until it passes.
    group_instance_id: str | None = None
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    # A Confluent-compatible schema registry: records are then written in its wire format
    # (schema id framing; app/schema_registry.py). Unset: Avro single-object encoding.
    schema_registry_url: str | None = None
    schema_registry_username: str | None = None
    schema_registry_password: SecretStr | None = None
    holded: HoldedSettings = Field(default_factory=HoldedSettings)
    odoo: OdooSettings = Field(default_factory=OdooSettings)
    business_central: BusinessCentralSettings = Field(default_factory=BusinessCentralSettings)
    sap_b1: SapB1Settings = Field(default_factory=SapB1Settings)
    prestashop: PrestaShopSettings = Field(default_factory=PrestaShopSettings)
    shopify: ShopifySettings = Field(default_factory=ShopifySettings)
    # Incremental pollers (Holded v1 has no webhooks): how often each runs, on one worker.
    poll_interval_s: float = Field(60.0, gt=0)
    # How long a command may wait for the records it depends on (its contact, its products).
    dependency_wait_s: float = Field(120.0, gt=0)
    # How long a command waits for a record the target holds but cannot take it yet (a BC
    # invoice not posted) before it is parked for a person: one try every 30 s meanwhile.
    not_ready_wait_s: float = Field(4 * 3600.0, gt=0)
    # How often each worker asks the target whether the commands it parked that way could run
    # now (one read each, at most not_ready_recheck_max per check); 0: never, only by hand.
    not_ready_recheck_s: float = Field(300.0, ge=0)
    not_ready_recheck_max: int = Field(20, gt=0)
    # How long a starting worker's sinks wait for the mappings topic to be read before they run
    # commands anyway (then parked until a mapping arrives).
    mapping_wait_s: float = Field(30.0, gt=0)
    # Enables actions on the operator page (/operator on web_port); unset: read-only, localhost.
    operator_token: SecretStr | None = None
    # A write still without an outcome this long after its partition had nothing left to read
    # is emitted again (same command id: the sink's ledger makes it safe); 0: never.
    resend_after_s: float = Field(300.0, ge=0)
    # How often a worker samples its Kafka-read gauges (consumer lag, DLQ size, parked, replay).
    metrics_interval_s: float = Field(5.0, gt=0)
    # Per-request timeout of every connector's HTTP client (a timed-out write is an unknown
    # outcome: the sink settles and searches before writing again).
    api_timeout_s: float = Field(30.0, gt=0)
    # Decoded canonical entries the agent keeps of recently decided entities (app/entry_cache.py):
    # a hot entity (its change, the command's result, the echo) is not decoded again on each
    # event. 8-13 KB each for a contact (bench/canonical_cpu.py --memory): the default stays
    # under 65 MB, well inside a worker's 400 MB with 100k entities; 0 disables it.
    decoded_cache: int = Field(5_000, ge=0)
    # Entities a bulk replay process keeps decoded while it decides a partition
    # (app/bulk_replay.py); the ones decided least recently beyond it are kept encoded (about
    # 1.4 KB instead of 8-13 KB) and decoded again when their entity comes back.
    replay_decoded_entries: int = Field(20_000, ge=1)
    # RocksDB memory of each table partition (one database each): faust's defaults are 3
    # memtables of 64 MB and a 2 GB block cache per database, so a worker's RSS grew with every
    # write until the memtables flushed (860 MB in a 1M-event replay). Smaller memtables flush
    # sooner; the block cache only keeps what is read again.
    rocksdb_write_buffer_mb: int = Field(8, ge=1)
    rocksdb_block_cache_mb: int = Field(16, ge=1)

    @field_validator("systems", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return comma_list(value)

    @field_validator("systems")
    @classmethod
    def _known_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in SYSTEMS:
                raise ValueError(_unknown_system(name))
        return value

    @field_validator("field_owners", mode="before")
    @classmethod
    def _owner_pairs(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        owners: dict[str, str] = {}
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            target, sep, owner = item.partition("=")
            if not sep:
                raise ValueError(f"{item!r} is not <entity>.<field>=<system>")
            owners[target.strip()] = owner.strip()
        return owners

    @model_validator(mode="after")
    def _owners_known(self) -> Settings:
        for target, owner in self.field_owners.items():
            entity, dot, name = target.partition(".")
            if entity not in _ENTITIES or not dot or not name:
                raise ValueError(f"field_owners: {target!r} is not <entity>.<field> with entity "
                                 f"one of {', '.join(_ENTITIES)}")
            fields = _record_fields(entity)
            if name not in fields:
                raise ValueError(f"field_owners: {entity} has no field {name!r} (its fields: "
                                 f"{', '.join(fields)})")
            if owner not in self.systems:
                raise ValueError(f"field_owners: {target} is owned by {owner!r}, which is not "
                                 f"one of the systems ({', '.join(self.systems)})")
        return self

    @property
    def bootstrap(self) -> str:
        return ",".join(u.split("://", 1)[-1] for u in self.broker.split(";"))

    @property
    def table_options(self) -> dict[str, int]:
        """faust table options: the RocksDB store's memory (the memory store ignores them)."""
        return {"write_buffer_size": self.rocksdb_write_buffer_mb << 20,
                "max_write_buffer_number": 2,
                "block_cache_size": self.rocksdb_block_cache_mb << 20}

    @property
    def erps(self) -> tuple[str, ...]:
        """Systems that receive commands besides Holded (the file source receives none)."""
        return tuple(s for s in self.systems if s not in ("holded", "file"))


# The sections of Settings that read their own environment variables (HOLDED_*, ODOO_*, ...).
_SECTIONS: dict[str, type[BaseSettings]] = {
    "holded": HoldedSettings, "odoo": OdooSettings, "business_central": BusinessCentralSettings,
    "sap_b1": SapB1Settings, "prestashop": PrestaShopSettings, "shopify": ShopifySettings}


def load_settings(config_file: str | os.PathLike | None = None, **overrides: Any) -> Settings:
    """Environment first; a YAML file (``HOLDED_SYNC_CONFIG``) fills what the env leaves unset.

    Every variable wins over the file for the setting it names: ``HOLDED_SYNC_<NAME>`` over the
    top-level ``<name>``, and a section's own variables (``ODOO_DB``, ``HOLDED_API_KEY``...) over
    that key of the file's section (``odoo: {db: ...}``), whose other keys still apply."""
    path = config_file or os.environ.get("HOLDED_SYNC_CONFIG")
    from_file: dict[str, Any] = {}
    if path:
        from_file = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(from_file, dict):
            raise ValueError(f"{path}: expected a mapping of settings at the top level")
    env = {name.upper(): value for name, value in os.environ.items()}  # names are case-blind
    env_set = {k[len("HOLDED_SYNC_"):].lower() for k in env if k.startswith("HOLDED_SYNC_")}
    merged: dict[str, Any] = {}
    for key, value in from_file.items():
        if key in env_set:
            continue
        section = _SECTIONS.get(key)
        if section is not None and isinstance(value, dict):
            # A section given as a mapping is validated as it is, without reading the
            # environment: put its variables in it, over the file's values.
            prefix = str(section.model_config.get("env_prefix", "")).upper()
            value = {**value, **{name: env[prefix + name.upper()] for name in section.model_fields
                                 if prefix + name.upper() in env}}
        merged[key] = value
    return Settings(**{**merged, **overrides})


def settings_error(exc: Exception) -> str:
    """One line for a settings error: pydantic's, with each error at the variable it names."""
    if not isinstance(exc, ValidationError):
        return " ".join(str(exc).split())
    said = []
    # A section read from the environment alone fails on its own (its title is its class).
    within = [k for k, cls in _SECTIONS.items() if cls.__name__ == exc.title][:1]
    for error in exc.errors(include_url=False, include_input=False):
        loc = within + [str(part) for part in error["loc"]]
        section = _SECTIONS.get(loc[0]) if loc else None
        if section is not None and len(loc) > 1:
            name = str(section.model_config.get("env_prefix", "")).upper() + loc[1].upper()
        elif loc:
            name = "HOLDED_SYNC_" + loc[0].upper()
        else:
            name = "settings"
        message = error["msg"].removeprefix("Value error, ")
        said.append(f"{name}: {message}")
    return "; ".join(said)
