"""Another host, on this machine: a Linux network namespace joined to the root one by a veth link.

``OtherHost`` creates a namespace with only its loopback and one end of a veth pair, addressed from a
private /30 of 10.250.0.0/16 that no interface of the machine uses; the root end gets the other
address. Nothing else is routed: a process started in the namespace (``host.popen``) reaches the
root namespace's 10.250.x.1 and nothing more (not 127.0.0.1 of the machine, not its other
interfaces). ``Forwarder`` is a TCP forwarder in the root namespace, bound on the link's root
address, that passes one port through to a service that listens on 127.0.0.1 only (the shared
RabbitMQ, a test's API): the other host then sees exactly the services it is given.

``host.cut()`` sets the link down (packets are lost both ways; open TCP connections stay open and
see nothing, as on a cable pulled between two hosts), ``host.restore()`` brings it back.
``close()`` kills every process of the namespace and removes the namespace and link, also when the
test failed. Needs root (CAP_NET_ADMIN); ``netns_unavailable()`` says why not, for a skip.
"""
from __future__ import annotations

import ipaddress
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import uuid
from typing import Optional, Sequence

import pytest

NETWORK = ipaddress.ip_network("10.250.0.0/16")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def netns_unavailable() -> Optional[str]:
    """None when this process may create network namespaces and veth links, else the reason."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    name = f"cvprobe{uuid.uuid4().hex[:6]}"
    probe = _ip("netns", "add", name, check=False)
    if probe.returncode != 0:
        return f"`ip netns add` is not permitted here: {probe.stderr.strip()}"
    _ip("netns", "del", name, check=False)
    return None


def _used_networks() -> list[ipaddress.IPv4Network]:
    used = []
    for line in _ip("-4", "-o", "addr", "show").stdout.splitlines():
        fields = line.split()
        if "inet" in fields:
            used.append(ipaddress.ip_interface(fields[fields.index("inet") + 1]).network)
    return used


class OtherHost:
    """A network namespace with a veth link to the root namespace (see the module docstring)."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.name = f"cvhost{tag}"
        self.root_link, self.host_link = f"cvr{tag}", f"cvh{tag}"  # interface names: 15 characters at most
        used = _used_networks()
        subnets = list(NETWORK.subnets(new_prefix=30))
        while True:
            subnet = random.choice(subnets)  # noqa: S311 - picking a free test subnet, not a secret
            if not any(subnet.overlaps(network) for network in used):
                break
        first, second = list(subnet.hosts())
        self.root_address, self.host_address = str(first), str(second)
        self.prefix = subnet.prefixlen
        self._processes: list[subprocess.Popen] = []
        self._created = False

    def create(self) -> "OtherHost":
        _ip("netns", "add", self.name)
        self._created = True
        _ip("-n", self.name, "link", "set", "lo", "up")
        _ip("link", "add", self.root_link, "type", "veth", "peer", "name", self.host_link)
        _ip("link", "set", self.host_link, "netns", self.name)
        _ip("addr", "add", f"{self.root_address}/{self.prefix}", "dev", self.root_link)
        _ip("-n", self.name, "addr", "add", f"{self.host_address}/{self.prefix}", "dev", self.host_link)
        _ip("link", "set", self.root_link, "up")
        _ip("-n", self.name, "link", "set", self.host_link, "up")
        return self

    def cut(self) -> None:
        """Pull the cable: the link goes down, every packet between the two hosts is lost."""
        _ip("link", "set", self.root_link, "down")

    def restore(self) -> None:
        _ip("link", "set", self.root_link, "up")

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start ``argv`` inside the namespace (in a session of its own); ``close()`` kills it."""
        process = subprocess.Popen(["ip", "netns", "exec", self.name, *argv], start_new_session=True, **kwargs)
        self._processes.append(process)
        return process

    def run(self, argv: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True,
                              timeout=timeout, check=False)

    def close(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        if self._created:
            # Anything still running in the namespace was started by this test (the namespace is its own).
            for pid in _ip("netns", "pids", self.name, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _ip("link", "del", self.root_link, check=False)  # removes the namespace's end too
            _ip("netns", "del", self.name, check=False)
            self._created = False

    def __enter__(self) -> "OtherHost":
        try:
            return self.create()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info) -> None:
        self.close()


class Forwarder:
    """Listens on ``bind`` (an address of the root namespace) and pipes each connection to ``target``."""

    def __init__(self, bind: str, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server((bind, 0))
        self.address, self.port = bind, self.listener.getsockname()[1]
        self.connections = 0
        self.peers: set[str] = set()  # the addresses connections came from
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name=f"forward-{self.port}", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                outer, (peer, _) = self.listener.accept()
            except OSError:
                return
            try:
                inner = socket.create_connection(self.target, timeout=5)
                inner.settimeout(None)
            except OSError:
                outer.close()
                continue
            with self._lock:
                self.connections += 1
                self.peers.add(peer)
                self._sockets += [outer, inner]
            for source, sink in ((outer, inner), (inner, outer)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()


def reachable_from(host: OtherHost, address: str, port: int, timeout: float = 3.0) -> bool:
    """Whether a TCP connection from inside ``host`` to ``address:port`` is accepted."""
    code = (f"import socket,sys\ntry:\n socket.create_connection(({address!r},{port}),timeout={timeout}).close()\n"
            "except OSError:\n sys.exit(1)\n")
    return host.run(["python3", "-c", code], timeout=timeout + 10).returncode == 0


@pytest.fixture
def other_host():
    """An ``OtherHost`` for one test, removed afterwards; skipped where namespaces cannot be made."""
    reason = netns_unavailable()
    if reason:
        pytest.skip(f"network namespaces unavailable: {reason}")
    with OtherHost() as host:
        yield host
