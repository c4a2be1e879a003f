"""A real single-node Apache Kafka (KRaft) for development, tests and the demo.

The jars come from Maven Central through `pom.xml` beside this file and are cached outside
git (``~/.cache/holded-sync/kafka-<version>/lib``), so the second start needs no download.
The broker runs as a child JVM bound to 127.0.0.1 on a free port and is stopped by its own
PID. No fake broker exists anywhere in this project: tests and the demo use this one.
"""
from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import parent_death

log = logging.getLogger(__name__)

KAFKA_VERSION = "3.9.1"
POM = Path(__file__).with_name("pom.xml")
LOG4J = Path(__file__).with_name("log4j.properties")
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
BIND_ATTEMPTS = 3  # a start whose port was taken meanwhile is tried again on new ports


class DevKafkaError(RuntimeError):
    """The local broker could not be prepared, started or stopped; the message says why."""


def cache_root() -> Path:
    if os.environ.get("HOLDED_SYNC_CACHE"):
        return Path(os.environ["HOLDED_SYNC_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "holded-sync"


def default_data_dir() -> Path:
    return cache_root() / "dev-kafka"


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise DevKafkaError(f"`{tool}` is not on PATH: {hint}")
    return path


@contextlib.contextmanager
def _exclusive(path: Path):
    """Hold an exclusive lock on ``path`` (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_jars(version: str = KAFKA_VERSION) -> Path:
    """Resolve the broker's runtime jars once with Maven; later calls return the cache.

    Several processes may start brokers at once (the test suite's parallel workers): the
    first resolves under a lock, the others wait for it and find the cache complete."""
    lib = cache_root() / f"kafka-{version}" / "lib"
    if (lib / ".complete").exists():
        return lib
    with _exclusive(lib.parent.with_name(f"kafka-{version}.lock")):
        if (lib / ".complete").exists():
            return lib
        return _resolve(lib, version)


def _resolve(lib: Path, version: str) -> Path:
    mvn = _require("mvn", "install Maven (e.g. `apt-get install maven`) to fetch Kafka")
    _require("java", "install a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre-headless`)")
    staging = lib.with_name(f"lib.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    log.info("Fetching Apache Kafka %s jars from Maven Central (once)...", version)
    cmd = [mvn, "-q", "-B", "-f", str(POM), f"-Dkafka.version={version}",
           "dependency:copy-dependencies", f"-DoutputDirectory={staging}", "-DincludeScope=runtime"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DevKafkaError(
            "Maven could not resolve Kafka from Maven Central:\n" + (proc.stdout + proc.stderr)[-2000:])
    if not any(staging.glob("kafka_2.13-*.jar")):
        raise DevKafkaError(f"Maven finished but no kafka_2.13 jar is in {staging}")
    (staging / ".complete").write_text(version)
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)
    return lib


# Listening ports are picked below the kernel's ephemeral range (Linux: 32768-60999 by
# default). A port the OS hands out for "any free port" (bind to 0) comes from that range, and
# the kernel may give the same number as the source port of the next outgoing connection: a
# client connecting in the seconds before the server bound it took it, and the broker failed
# to start with "Address already in use".
_LISTEN_PORTS_FROM = 15000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # unknown (not Linux): let the OS pick


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, for a server about to start."""
    low = _ephemeral_low()
    if low - _LISTEN_PORTS_FROM >= 1000:
        rng = random.Random()  # its own: a seeded global random must not make two pick alike
        for _ in range(200):
            port = rng.randrange(_LISTEN_PORTS_FROM, low)
            if _port_free(port):
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _listening(port: int) -> bool:
    """Probe by connecting: binding the port here could steal it from the starting broker."""
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _cluster_id() -> str:
    """Kafka cluster ids are 16 random bytes in url-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _server_properties(data: Path, port: int, controller_port: int,
                       advertised_port: int | None = None) -> str:
    return f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{advertised_port or port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data / 'kraft-logs'}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=2000
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=-1
"""


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    pid: int
    port: int
    data_dir: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child is not a running broker
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0]
        return state != "Z"
    except OSError:
        return True


def status(data_dir: Path | None = None) -> BrokerInfo | None:
    """The running broker of this data dir, or None."""
    data = Path(data_dir or default_data_dir())
    try:
        pid = int((data / "broker.pid").read_text())
        port = int((data / "broker.port").read_text())
    except (OSError, ValueError):
        return None
    return BrokerInfo(pid, port, data) if _pid_alive(pid) else None


def _java_cmd(lib: Path, *args: str, heap: str = "-Xmx512m") -> list[str]:
    java = _require("java", "install a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre-headless`)")
    return [java, "-Xms256m", heap, "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{LOG4J}", "-cp", f"{lib}/*", *args]


def start(data_dir: Path | None = None, port: int | None = None,
          timeout: float = READY_TIMEOUT_S, advertised_port: int | None = None, *,
          die_with_parent: bool = False) -> BrokerInfo:
    """Start (or find running) the broker of ``data_dir`` and wait until it serves metadata.
    ``advertised_port``: the port clients are told to connect to, if not ``port`` (a proxy in
    front of the broker, as tests/support/kafka_proxy.py is; it must listen already).
    ``die_with_parent``: the broker is stopped when this process dies, however it dies (the
    tests' and the demo's; ``dev kafka start``'s outlives the command, app/parent_death.py)."""
    data = Path(data_dir or default_data_dir())
    running = status(data)
    if running:
        return running
    lib = ensure_jars()
    data.mkdir(parents=True, exist_ok=True)
    saved = data / "broker.port"
    chosen = port
    if port is None and saved.exists() and _port_free(int(saved.read_text())):
        port = int(saved.read_text())
    attempt = 1
    while True:
        try:
            return _start(lib, data, port or free_port(), timeout, advertised_port,
                          die_with_parent)
        except _PortTaken as exc:
            if attempt == BIND_ATTEMPTS or chosen is not None:
                raise DevKafkaError(f"Kafka could not bind its ports:\n{exc}") from None
            log.warning("a port of the new broker was taken before it bound it; new ports")
            attempt, port = attempt + 1, None


# The Popen of each broker this process started, until it is seen to end: dropped while the
# broker runs, a Popen warns "subprocess ... is still running" (the broker is stopped by PID).
_started: dict[int, subprocess.Popen] = {}


class _PortTaken(Exception):
    """The broker exited at start-up because a port it was to listen on was in use."""


def _start(lib: Path, data: Path, port: int, timeout: float,
           advertised_port: int | None = None, die_with_parent: bool = False) -> BrokerInfo:
    """One start of the broker on ``port`` and a new controller port, until it serves metadata."""
    controller_port = free_port()
    props = data / "server.properties"
    props.write_text(_server_properties(data, port, controller_port, advertised_port))
    if not (data / "kraft-logs" / "meta.properties").exists():
        fmt = subprocess.run(
            # "=": a url-safe base64 id may start with "-", which the tool would read as a flag.
            _java_cmd(lib, "kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id()}",
                      "-c", str(props), "--ignore-formatted", heap="-Xmx256m"),
            capture_output=True, text=True)
        if fmt.returncode != 0:
            raise DevKafkaError("Formatting KRaft storage failed:\n" + (fmt.stdout + fmt.stderr)[-2000:])
    log_path = data / "broker.log"
    ours_from = log_path.stat().st_size if log_path.exists() else 0  # the log of earlier starts
    logfile = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        _java_cmd(lib, "kafka.Kafka", str(props)), stdout=logfile, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True, cwd=data,
        preexec_fn=parent_death.die_with_parent() if die_with_parent else None)
    logfile.close()
    _started[proc.pid] = proc
    (data / "broker.pid").write_text(str(proc.pid))
    (data / "broker.port").write_text(str(port))
    info = BrokerInfo(proc.pid, port, data)
    try:
        _run_blocking(_wait_ready(info, proc, timeout))
    except BaseException as exc:
        stop(data)
        if isinstance(exc, DevKafkaError) and (
                "Address already in use" in _read_from(log_path, ours_from)):
            raise _PortTaken(str(exc)[-500:]) from None
        raise
    return info


def _read_from(path: Path, offset: int) -> str:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def _run_blocking(coro: Any) -> None:
    """asyncio.run, also from code that already runs an event loop (tests, benchmarks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


async def _wait_ready(info: BrokerInfo, proc: subprocess.Popen, timeout: float) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (info.data_dir / "broker.log").read_text(errors="replace")[-3000:]
            raise DevKafkaError(f"Kafka exited with code {proc.returncode} during start-up:\n{tail}")
        if not _listening(info.port):  # nothing listens yet: skip the client and its error logs
            await asyncio.sleep(0.2)
            continue
        admin = AIOKafkaAdminClient(bootstrap_servers=info.bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.describe_cluster()
            return
        except Exception as exc:  # not ready yet; keep the last reason for the error
            last = exc
        finally:
            await admin.close()
        await asyncio.sleep(0.3)
    raise DevKafkaError(f"Kafka did not answer metadata requests within {timeout:.0f}s: {last!r}")


def stop(data_dir: Path | None = None, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stop the broker of ``data_dir`` by its PID: SIGTERM, then SIGKILL. True if one ran."""
    data = Path(data_dir or default_data_dir())
    pid_file = data / "broker.pid"
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return False
    was_running = _pid_alive(pid)
    if was_running:
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)
        if _pid_alive(pid):
            _signal_group(pid, signal.SIGKILL)
    _reap(pid)  # also a broker that had exited by itself: a zombie until then
    pid_file.unlink(missing_ok=True)
    return was_running


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _reap(pid: int) -> None:
    proc = _started.get(pid)
    if proc is not None:  # through its Popen, which then knows it has ended
        if proc.poll() is not None:
            del _started[pid]
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
