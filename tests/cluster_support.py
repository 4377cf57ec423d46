"""A three-node RabbitMQ cluster of the installed RabbitMQ, for the failover tests (issue 21).

The machine's own broker (rabbit@localhost on :5672) is shared by CI and other sessions, so these
nodes share nothing with it: their own node names, AMQP and distribution ports, data and log
directories, config file, an empty plugin list, and their own Erlang cookie (a HOME of their own,
which `rabbitmqctl` is given too). They are small for 2 cores: one scheduler each, no busy-waiting
schedulers, a 256 MiB memory watermark. The scripts under /usr/lib/rabbitmq/bin are run directly:
Debian's /usr/sbin wrappers switch to the `rabbitmq` user and its HOME (the shared cookie).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT = 90.0


class ClusterError(RuntimeError):
    """The cluster could not be started or changed; the message carries the node's log tail."""


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_base(start: int = 5681, count: int = 3) -> int:
    """A base port with `count` free AMQP ports and their distribution (+20000) and CLI ports."""
    for base in range(start, start + 300, 10):
        ports = [base + i + off for i in range(count) for off in (0, 20000, 30000)]
        if all(_port_free(p) for p in ports):
            return base
    raise ClusterError(f"no free ports for a {count}-node cluster from {start}")


@dataclass
class Node:
    name: str  # Erlang node name, e.g. ab1f3c-1@localhost
    port: int  # AMQP
    dist_port: int
    base: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def pid_file(self) -> Path:
        return self.base / "node.pid"

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for path in [self.base / "stdout.log", *sorted((self.base / "log").glob("*.log"))]:
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out) or "(no log written)"


class RabbitCluster:
    """Starts, clusters, breaks and removes the nodes; `urls` is what AMQP_URL lists (kombu's `;`)."""

    def __init__(self, size: int = 3, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="auvo-bling-cluster-"))
        self.home = self.root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(uuid.uuid4().hex.upper())
        cookie.chmod(0o400)
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's (it names rabbit@localhost)
        tag = uuid.uuid4().hex[:6]
        base = free_port_base(count=size)
        self.nodes = [
            Node(f"ab{tag}-{i + 1}@localhost", base + i, base + i + 20000, self.root / f"node{i + 1}")
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    @property
    def amqp_url(self) -> str:
        """Every node's URL in one AMQP_URL (kombu's failover list)."""
        return ";".join(self.urls)

    def _env(self, node: Node | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self.home),
            RABBITMQ_CONF_ENV_FILE=str(self.root / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.root / "enabled_plugins"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        if node is not None:
            conf = node.base / "rabbitmq.conf"
            env.update(
                RABBITMQ_NODENAME=node.name,
                RABBITMQ_NODE_PORT=str(node.port),
                RABBITMQ_DIST_PORT=str(node.dist_port),
                RABBITMQ_MNESIA_BASE=str(node.base / "mnesia"),
                RABBITMQ_LOG_BASE=str(node.base / "log"),
                RABBITMQ_CONFIG_FILE=str(conf),
                RABBITMQ_PID_FILE=str(node.pid_file),
                RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                    "+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none "
                    "-kernel inet_dist_use_interface {127,0,0,1}"
                ),
            )
        return env

    def ctl(self, node: Node, *args: str, timeout: float = 60.0, check: bool = True) -> str:
        """`rabbitmqctl -n NODE ...` on one of our nodes (never the machine's own broker)."""
        try:
            done = subprocess.run(
                [str(RABBIT_BIN / "rabbitmqctl"), "-n", node.name, *args],
                env=self._env(),
                capture_output=True,
                timeout=timeout,
                text=True,
            )
        except subprocess.TimeoutExpired as exc:
            what = f"rabbitmqctl {' '.join(args)} on {node.name} hung"
            raise ClusterError(f"{what}\n{node.log_tail()}") from exc
        if check and done.returncode != 0:
            raise ClusterError(
                f"rabbitmqctl {' '.join(args)} on {node.name} exited {done.returncode}: "
                f"{done.stderr.strip()[-800:]}\n{node.log_tail()}"
            )
        return done.stdout

    def launch(self, node: Node) -> None:
        (node.base / "log").mkdir(parents=True, exist_ok=True)
        (node.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{node.port}\n"
            "loopback_users = none\n"
            "vm_memory_high_watermark.absolute = 256MiB\n"
            "disk_free_limit.absolute = 50MB\n"
            "collect_statistics_interval = 30000\n"
        )
        node.pid_file.unlink(missing_ok=True)
        out = (node.base / "stdout.log").open("ab")
        node.process = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env=self._env(node),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our signals never reach the test process's group, nor theirs it
        )
        out.close()

    def await_node(self, node: Node, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not node.pid_file.exists():
            if node.process is not None and node.process.poll() is not None:
                raise ClusterError(f"{node.name} exited with {node.process.returncode}\n{node.log_tail()}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{node.name} wrote no pid file in {timeout:.0f} s\n{node.log_tail()}")
            time.sleep(0.2)
        self.ctl(node, "wait", str(node.pid_file), "--timeout", str(int(timeout)), timeout=timeout + 10)
        self.ctl(node, "await_startup", "--timeout", str(int(timeout)), timeout=timeout + 10)

    def start(self) -> None:
        """Start every node, join the others to the first, and wait until all of them run."""
        for node in self.nodes:
            self.launch(node)
        for node in self.nodes:
            self.await_node(node)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        self.wait_running(len(self.nodes))

    def running_nodes(self, via: Node | None = None) -> list[str]:
        via = via or next(n for n in self.nodes if self.alive(n))
        status = self.ctl(via, "cluster_status", "--formatter", "json")
        return sorted(json.loads(status).get("running_nodes", []))

    def wait_running(self, count: int, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            running = self.running_nodes()
            if len(running) >= count:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"only {running} run after {timeout:.0f} s\n{self.nodes[0].log_tail()}")
            time.sleep(0.5)

    def alive(self, node: Node) -> bool:
        return node.process is not None and node.process.poll() is None

    def pid(self, node: Node) -> int:
        return int(node.pid_file.read_text().strip())

    def kill(self, node: Node) -> None:
        """SIGKILL the node's Erlang VM (its whole process group): what a crashed host looks like."""
        assert node.process is not None
        os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait(30)

    def restart(self, node: Node) -> None:
        self.launch(node)
        self.await_node(node)
        self.wait_running(len(self.nodes))

    def leaders(self, prefix: str) -> dict[str, str]:
        """Queue name -> the node that leads it, for the queues whose name starts with `prefix`."""
        via = next(n for n in self.nodes if self.alive(n))
        out = self.ctl(via, "list_queues", "name", "leader", "--quiet", "--no-table-headers")
        leaders = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and parts[0].startswith(prefix):
                leaders[parts[0]] = parts[1]
        return leaders

    def members(self, queue: str) -> list[str]:
        via = next(n for n in self.nodes if self.alive(n))
        out = self.ctl(via, "list_queues", "name", "members", "--quiet", "--no-table-headers")
        for line in out.splitlines():
            name, _, members = line.partition("\t")
            if name == queue:
                return sorted(m.strip() for m in members.strip("[]").split(",") if m.strip())
        return []

    def node_named(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def _kill_if_ours(self, node: Node) -> None:
        """SIGKILL the VM of the pid file only if that pid is still this node's (pids are reused)."""
        with contextlib.suppress(OSError, ValueError):
            pid = self.pid(node)
            if node.name.split("@")[0].encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)

    def teardown(self) -> None:
        """Stop every node (politely, then SIGKILL) and delete their data, whatever state they are in."""
        for node in self.nodes:
            if self.alive(node):
                with contextlib.suppress(ClusterError):
                    self.ctl(node, "stop", timeout=30, check=False)
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.process.pid, signal.SIGKILL)
                node.process.wait(30)
            self._kill_if_ours(node)
        shutil.rmtree(self.root, ignore_errors=True)
