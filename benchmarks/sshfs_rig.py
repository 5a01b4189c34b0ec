"""A real network file system on this machine: sshd on 127.0.0.1 (own config, keys, port) and an sshfs mount.

Used by bench_network.py (tests/core/test_copier_sshfs.py carries its own copy of these few
steps: tests do not import benchmarks). Needs root-free FUSE or root, `sshd` and `sshfs`.

    with SshfsRig(work_dir) as rig:   # rig.remote: the served folder, rig.mount: where it is mounted
        ...
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    """Whether a socket listens on 127.0.0.1:`port` (read from /proc/net/tcp, without connecting)."""
    try:
        with open("/proc/net/tcp", encoding="ascii") as fh:
            rows = fh.read().splitlines()[1:]
    except OSError:
        return True  # cannot tell: sshfs's own connection attempt says the rest
    wanted = f":{port:04X}"
    return any(row.split()[1].endswith(wanted) and row.split()[3] == "0A" for row in rows)


def missing_tools() -> str | None:
    """Why the rig cannot run here, or None."""
    for tool in ("sshfs", "ssh-keygen", "fusermount3"):
        if shutil.which(tool) is None and not (tool == "fusermount3" and shutil.which("fusermount")):
            return f"{tool} is not installed (apt: openssh-server sshfs)"
    if not os.path.exists(SSHD):
        return f"{SSHD} is not installed (apt: openssh-server)"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing (FUSE is not available)"
    return None


def _end(proc: subprocess.Popen[bytes], terminate: bool) -> None:
    """Let `proc` end (asked to with SIGTERM if `terminate`), killed after 5 s."""
    if terminate:
        proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _fusermount() -> str:
    return shutil.which("fusermount3") or "fusermount"


class SshfsRig:
    """Starts its own sshd and mounts its folder `remote` at `mount` over sshfs; stops both at exit."""

    def __init__(self, root: Path, sshfs_options: tuple[str, ...] = (), debug_log: Path | None = None) -> None:
        self.root = Path(root)
        # With a log: sshfs runs in the foreground with -o sshfs_debug, one line per SFTP request
        # into that file (`requests` counts them).
        self.debug_log = debug_log
        self.sshfs: subprocess.Popen[bytes] | None = None
        self.keys = self.root / "keys"
        self.remote = self.root / "remote"
        self.mount = self.root / "mnt"
        self.sshfs_options = sshfs_options
        self.sshd: subprocess.Popen[bytes] | None = None
        self.mounted = False
        self.port = 0

    def __enter__(self) -> SshfsRig:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        for d in (self.keys, self.remote, self.mount):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.keys, 0o700)
        for name in ("host", "user"):
            key = self.keys / name
            if not key.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        shutil.copy(self.keys / "user.pub", self.keys / "authorized_keys")
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation folder
        self.port = free_port()
        config = self.keys / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.keys / 'host'}\n"
            f"PidFile {self.keys / 'sshd.pid'}\nAuthorizedKeysFile {self.keys / 'authorized_keys'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n"
            "Subsystem sftp internal-sftp\nLogLevel ERROR\n"
        )
        self.sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _listening(self.port):  # not a test connection: sshd logs each one it drops
            if self.sshd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sshd did not start")
            time.sleep(0.05)
        user = os.environ.get("USER") or "root"
        options = [
            f"IdentityFile={self.keys / 'user'}", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
            "BatchMode=yes", "LogLevel=ERROR", *self.sshfs_options,
        ]
        command = ["sshfs", "-p", str(self.port), "-o", ",".join(options), f"{user}@127.0.0.1:{self.remote}",
                   str(self.mount)]
        if self.debug_log is None:
            subprocess.run(command, check=True, timeout=30, stdin=subprocess.DEVNULL)
        else:
            with open(self.debug_log, "wb") as log:
                self.sshfs = subprocess.Popen([command[0], "-f", "-o", "sshfs_debug", *command[1:]],
                                              stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            deadline = time.monotonic() + 30
            while not os.path.ismount(self.mount):
                if self.sshfs.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sshfs did not mount (see {self.debug_log})")
                time.sleep(0.05)
        self.mounted = True

    def requests(self, since: int = 0) -> tuple[collections.Counter[str], int]:
        """SFTP requests logged since byte offset `since` (debug_log mounts), by kind, and the log's size now."""
        data = self.debug_log.read_bytes() if self.debug_log is not None else b""
        kinds = collections.Counter(m.group(1).decode() for m in re.finditer(rb"(?m)^\[\d+\]\s+(\S+)", data[since:]))
        return kinds, len(data)

    def stop(self) -> None:
        if self.mounted:
            for _ in range(50):
                if subprocess.run([_fusermount(), "-u", str(self.mount)], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
            else:
                subprocess.run([_fusermount(), "-u", "-z", str(self.mount)], capture_output=True)
            self.mounted = False
        if self.sshfs is not None:  # unmounted: it is ending
            _end(self.sshfs, terminate=False)
            self.sshfs = None
        if self.sshd is not None:
            _end(self.sshd, terminate=True)
            self.sshd = None
