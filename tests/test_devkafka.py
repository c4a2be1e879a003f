"""The local broker's pure parts (starting a real one is what every integration test does)."""
from __future__ import annotations

import base64

from app.devkafka import broker


def test_cluster_ids_are_16_bytes_of_url_safe_base64():
    for _ in range(200):
        cid = broker._cluster_id()
        assert len(cid) == 22 and len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_server_properties_bind_loopback_only(tmp_path):
    props = broker._server_properties(tmp_path, 19092, 19093)
    assert "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in props
    assert "advertised.listeners=PLAINTEXT://127.0.0.1:19092" in props
    assert "auto.create.topics.enable=false" in props


def test_status_of_an_unused_data_dir_is_none(tmp_path):
    assert broker.status(tmp_path) is None
    assert broker.stop(tmp_path) is False
