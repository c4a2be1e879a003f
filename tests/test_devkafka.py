"""The local broker: its pure parts, and a start that must pick new ports (starting a real
one is what every integration test does)."""
from __future__ import annotations

import base64
import logging
import os
import socket
from pathlib import Path

import pytest

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


def test_free_ports_are_below_the_ephemeral_range():
    """The OS gives outgoing connections source ports from its ephemeral range; a listening
    port picked there could be taken by a client before the server binds it."""
    low = broker._ephemeral_low()
    assert low > 16000  # Linux's default range starts at 32768
    ports = [broker.free_port() for _ in range(200)]
    assert all(broker._LISTEN_PORTS_FROM <= p < low for p in ports)
    assert all(broker._port_free(p) for p in ports)


@pytest.mark.kafka
def test_a_start_whose_port_was_taken_meanwhile_is_tried_again_on_new_ports(tmp_path, monkeypatch,
                                                                              caplog):
    with socket.socket() as taken:  # a "client" got the port between the pick and the bind
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        picks = iter([taken.getsockname()[1]])
        real = broker.free_port
        monkeypatch.setattr(broker, "free_port", lambda: next(picks, None) or real())
        with caplog.at_level(logging.WARNING, logger=broker.__name__):
            info = broker.start(tmp_path / "kafka")
    try:
        assert broker.status(info.data_dir) == info
        assert "Address already in use" in (info.data_dir / "broker.log").read_text()
        assert any("taken before it bound it" in r.getMessage() for r in caplog.records)
    finally:
        assert broker.stop(info.data_dir)


def test_concurrent_first_starts_resolve_the_jars_once(tmp_path):
    """Parallel test workers start their brokers at once on a fresh machine: one Maven run,
    and no process removes the jars another one is already using."""
    import stat
    import subprocess
    import sys
    import textwrap

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "mvn-calls"
    fake_mvn = bin_dir / "mvn"  # records its call, takes a moment, "downloads" one jar
    fake_mvn.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys, time, pathlib
        with open({str(calls)!r}, "a") as f:
            f.write("call\\n")
        time.sleep(0.5)
        out = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("-DoutputDirectory="))
        pathlib.Path(out).mkdir(parents=True, exist_ok=True)
        (pathlib.Path(out) / "kafka_2.13-3.9.1.jar").write_text("jar")
        """))
    fake_mvn.chmod(fake_mvn.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "HOLDED_SYNC_CACHE": str(tmp_path / "cache")}
    code = "from app.devkafka.broker import ensure_jars; print(ensure_jars())"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert calls.read_text().count("call") == 1
    libs = {out.strip() for out, _ in outs}
    assert len(libs) == 1 and (Path(libs.pop()) / "kafka_2.13-3.9.1.jar").exists()
