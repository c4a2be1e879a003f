"""The worker's tables open RocksDB with the memory the settings allow, not faust's defaults
(3 memtables of 64 MB and a 2 GB block cache per table partition)."""
from __future__ import annotations

from app.settings import Settings
from app.worker import create_app


def test_every_table_of_the_worker_uses_the_configured_rocksdb_memory(tmp_path):
    settings = Settings(store="rocksdb://", data_dir=tmp_path, systems=("holded", "file"),
                        holded={"api_url": "http://127.0.0.1:1", "api_key": "k"},
                        rocksdb_write_buffer_mb=4, rocksdb_block_cache_mb=12, web_port=6999)
    tables = create_app(settings).tables
    assert set(tables) == {"canonical", "ledger-holded"}  # the agent's table and the sink's
    for table in tables.values():
        options = table.data.rocksdb_options
        assert options.write_buffer_size == 4 << 20
        assert options.max_write_buffer_number == 2
        assert options.block_cache_size == 12 << 20
