"""A private one-node SLURM on localhost (munge + slurmctld + slurmd) for tests, benchmarks and trying it out.

Everything lives in one folder: the munge key and socket, slurm.conf, state,
spool and logs; clients reach it through `SLURM_CONF`. Needs root (slurmd runs
jobs as their user) and Debian's slurmctld, slurmd, slurm-client and munge.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from vfxcopy.core.farm.slurm import SlurmError

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")


def missing_tools() -> list[str]:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [t for t in DAEMONS if shutil.which(t, path=search) is None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalSlurm:
    """Start with `start()`, stop with `stop()` (also a context manager)."""

    def __init__(self, folder: str | os.PathLike[str], cpus: int | None = None, kill_wait: int = 5) -> None:
        self.folder = Path(folder)
        self.cpus = cpus or os.cpu_count() or 1
        self.kill_wait = kill_wait
        self.conf = self.folder / "slurm.conf"
        self.node = socket.gethostname().split(".")[0]
        self._procs: list[subprocess.Popen[bytes]] = []
        self._names: list[str] = []
        self.env = dict(os.environ)
        self.env["SLURM_CONF"] = str(self.conf)
        self.env["PATH"] = os.pathsep.join([self.env.get("PATH", ""), "/usr/sbin", "/sbin"])

    def _write_config(self) -> None:
        f = self.folder
        for sub in ("state", "spool", "munge", "log"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(f / "munge", 0o700)
        key = f / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        ctl_port, d_port = _free_port(), _free_port()
        self.conf.write_text("\n".join([
            "ClusterName=vfxcopytest",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"SlurmctldPort={ctl_port}",
            f"SlurmdPort={d_port}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={f / 'munge' / 'munge.socket'}",
            f"StateSaveLocation={f / 'state'}",
            f"SlurmdSpoolDir={f / 'spool'}",
            f"SlurmctldPidFile={f / 'slurmctld.pid'}",
            f"SlurmdPidFile={f / 'slurmd.pid'}",
            f"SlurmctldLogFile={f / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={f / 'log' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "ReturnToService=2",
            f"KillWait={self.kill_wait}",
            "MinJobAge=300",
            "SchedulerParameters=sched_interval=1,bf_interval=1",
            "SlurmdParameters=config_overrides",
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} State=UNKNOWN",
            f"PartitionName=farm Nodes={self.node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO",
            "",
        ]), "utf-8")

    def start(self, timeout: float = 30.0) -> LocalSlurm:
        missing = missing_tools()
        if missing:
            raise SlurmError("not installed: " + ", ".join(missing))
        self._write_config()
        f = self.folder
        m = f / "munge"
        self._spawn(["munged", "-F", "--force", f"--socket={m / 'munge.socket'}", f"--key-file={m / 'munge.key'}",
                     f"--pid-file={m / 'munged.pid'}", f"--log-file={m / 'munged.log'}",
                     f"--seed-file={m / 'munge.seed'}"], "munged")
        self._wait(lambda: (m / "munge.socket").exists(), timeout, "munged did not start")
        self._spawn(["slurmctld", "-D", "-i", "-f", str(self.conf)], "slurmctld")
        self._spawn(["slurmd", "-D", "-f", str(self.conf), "-N", self.node], "slurmd")
        self._wait(self._node_idle, timeout, "the SLURM node did not come up")
        return self

    def _spawn(self, argv: list[str], name: str) -> None:
        log = open(self.folder / "log" / f"{name}.stderr", "ab")
        try:
            proc = subprocess.Popen(argv, stdout=log, stderr=log, env=self.env, start_new_session=True)
        finally:
            log.close()
        self._procs.append(proc)
        self._names.append(name)

    def _node_idle(self) -> bool:
        for proc, name in zip(self._procs, self._names, strict=False):
            if proc.poll() is not None:
                raise SlurmError(f"{name} exited with {proc.returncode}; see {self.folder / 'log'}")
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, env=self.env)
        return out.returncode == 0 and out.stdout.strip().startswith("idle")

    def _wait(self, ready: object, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if callable(ready) and ready():
                return
            time.sleep(0.1)
        self.stop()
        raise SlurmError(f"{what} within {timeout:.0f} s; see {self.folder / 'log'}")

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        self._names.clear()

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
