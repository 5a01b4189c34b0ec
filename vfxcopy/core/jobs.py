"""Job records shared by every runner: JobSpec, JobState, Progress, FrameResult, CancelToken.

The engine contract is `run(spec, token, report) -> JobResult` (see `engine.run_job`):
`report` receives `Progress`, `FrameResult` and `LogMessage` events from the
worker thread; it must be cheap and must not raise.
"""

from __future__ import annotations

import enum
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace

from vfxcopy.core.datamethods import Record
from vfxcopy.core.errors import Cancelled, StopRequested
from vfxcopy.core.sequence import Sequence

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from dataclasses import dataclass as record
    from typing import Any
else:
    from vfxcopy.core.datamethods import record

# Temporary files carry this prefix and the job id so that a resume or a crash
# clean-up removes only its own job's files, and watch folders ignore them.
TEMP_PREFIX = ".vfxcopy-"
TEMP_SUFFIX = ".part"


def temp_name(job_id: str, index: int) -> str:
    """A short hidden temporary name (well under the 255-byte limit)."""
    return f"{TEMP_PREFIX}{job_id}-{index}{TEMP_SUFFIX}"


def is_temp_name(name: str, job_id: str | None = None) -> bool:
    """True for a vfxcopy temporary file name, of any job or of `job_id` only."""
    if not (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)):
        return False
    return job_id is None or name.startswith(f"{TEMP_PREFIX}{job_id}-")


def new_job_id() -> str:
    # 12 random hex digits, as uuid4().hex[:12] gave (importing uuid loads platform: 4 ms of every start).
    return os.urandom(6).hex()


class Operation(str, enum.Enum):
    COPY = "copy"
    CONVERT = "convert"


class VerifyMode(str, enum.Enum):
    NONE = "none"
    TRANSFER = "transfer"  # hash what was read and what was written
    FULL = "full"  # also read the destination back after fsync


class HashAlgo(str, enum.Enum):
    XXH3 = "xxh3"  # xxh3-128
    XXH64 = "xxh64"
    MD5 = "md5"


class ConflictPolicy(str, enum.Enum):
    SKIP = "skip"
    SKIP_IDENTICAL = "skip-identical"  # same size and hash: skip; different: fail the frame
    OVERWRITE = "overwrite"
    RENAME = "rename"  # new versioned name, padding kept
    FAIL = "fail"


class JobState(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED)


class FrameStatus(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The records below are dataclasses (fields, replace, asdict work as ever) made with
# repr=False, eq=False on datamethods.Record, which gives them the very __repr__ and __eq__
# that @dataclass would compile for each (start-up: see core/datamethods.py).
@record(repr=False, eq=False)
class CopyOptions(Record):
    """How a copy runs: verification, hash, conflicts, fsync, bandwidth (defaults: the settings file's)."""

    verify: VerifyMode = VerifyMode.TRANSFER
    hash_algo: HashAlgo = HashAlgo.XXH3
    on_conflict: ConflictPolicy = ConflictPolicy.SKIP_IDENTICAL
    fsync: bool = True
    stop_on_error: bool = False
    bwlimit: int | None = None  # bytes per second, None = unlimited
    follow_symlinks: bool = False
    preserve: bool = True  # mode and mtime
    # Re-read each source file after the copy and compare with the hash taken while copying
    # (and with the source's own ASC MHL history when it has one): the check before a card is wiped.
    verify_source: bool = False
    # The handover PDF beside the job report (fpdf2, the report extra: importing it costs about
    # 0.6 s, so it is asked for: `--pdf`, or `report.pdf = true` in the settings file).
    pdf_report: bool = False


@record(repr=False, eq=False)
class ConvertOptions(Record):
    """What a conversion writes; interpreted by core/convert.py."""

    to: str = "exr"  # exr | dpx | tif | png | jpg | mp4 | mov
    compression: str | None = None  # e.g. "dwaa:45", "zip", "piz"
    data_format: str | None = None  # half | float | uint8 | uint10 | uint16
    quality: int | None = None  # JPEG quality
    resize: str | None = None  # "50%" or "1920x1080"
    filter: str | None = None
    from_space: str | None = None
    to_space: str | None = None
    ocio_config: str | None = None  # None: $OCIO or ocio://default
    channels: list[str] | None = None
    threads: int = 2
    compare_pixels: bool = False
    preset: str | None = None
    fps: float = 24.0
    view: str | None = None  # with to_space naming an OCIO display: apply this view (ociodisplay)


@record(repr=False, eq=False)
class JobSpec(Record):
    """What to do: everything a runner needs, serialisable to JSON for the journal."""

    source: Sequence
    dest_dir: str
    operation: Operation = Operation.COPY
    frames: list[int] | None = None  # None: every frame of the source
    rename_head: str | None = None  # new head (the part before the frame number)
    offset: int = 0  # added to every frame number at the destination
    copy: CopyOptions = field(default_factory=CopyOptions)
    convert: ConvertOptions | None = None
    job_id: str = field(default_factory=new_job_id)
    name: str = ""  # shown to the user; defaults to the source pattern
    origin: str = ""  # "gui", "cli", "watch:<rule>" ...
    # The output names the pipeline chose (one per item, rename version included), recorded
    # with the job at planning so that resume and retry reuse them; None: not planned yet.
    names: list[str] | None = None
    # Per destination-name answers to a conflict (from the window's conflict dialog):
    # name -> ConflictPolicy value; names not listed follow copy.on_conflict.
    conflict_choices: dict[str, str] | None = None
    # Pre-flight finding kind -> "refuse" | "warn" | "ignore" (core/preflight.py); None: no pre-flight.
    preflight: dict[str, str] | None = None
    # A folder tree as one job (core/tree.py): its folders and items ({"path": relative, "kind":
    # "dir" | "file" | "link", "size"}), recorded with the job; `source.directory` is the root and
    # `frames`, if set, selects items by their index among the files and links. None: not a tree.
    tree: list[dict[str, Any]] | None = None
    # Jobs that read the same source once (several destinations of a copy, several renditions
    # of a conversion) share a group id: the queue starts them together and their writers share
    # each item's read (core/writers/fanout.py) or decode. None: the job reads on its own.
    group: str | None = None

    def selected_frames(self) -> list[int]:
        if self.tree is not None and self.frames is None:
            return list(range(sum(1 for e in self.tree if e.get("kind") != "dir")))
        if self.frames is None:
            return list(self.source.frames)
        return list(self.frames)

    def display_name(self) -> str:
        """The job as messages name it: its sequence, and the extent of the frames it copies (those
        chosen with --frames, or a watch's follow-up, not the whole sequence's)."""
        if self.name:
            return self.name
        src = self.source
        if not self.frames or src.is_single or self.tree is not None:
            return src.display()
        first, last = min(self.frames), max(self.frames)
        return f"{src.nuke_name()} {first if first == last else f'{first}-{last}'}"

    def to_dict(self) -> dict[str, Any]:
        # Field by field, not asdict(self): asdict deep-copies every frame number and name
        # one call at a time (20,000 frames: 40 ms, and the journal records a spec three times).
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            data[f.name] = self.source.to_dict() if f.name == "source" else asdict(value) if hasattr(
                value, "__dataclass_fields__") else value
        plain: dict[str, Any] = _plain(data)
        return plain

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        data = dict(data)
        data["source"] = Sequence.from_dict(data["source"])
        data["operation"] = Operation(data["operation"])
        data["copy"] = _from_plain(CopyOptions, data.get("copy") or {})
        conv = data.get("convert")
        data["convert"] = _from_plain(ConvertOptions, conv) if conv is not None else None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if all(type(v) is int or type(v) is str for v in value):
            return list(value)  # frame numbers, names: nothing to convert
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


_ENUM_FIELDS: dict[str, type[enum.Enum]] = {
    "verify": VerifyMode,
    "hash_algo": HashAlgo,
    "on_conflict": ConflictPolicy,
}


def _from_plain(cls: type[Any], data: dict[str, Any]) -> Any:
    known = {f.name for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in known:
            continue
        if key in _ENUM_FIELDS and value is not None:
            value = _ENUM_FIELDS[key](value)
        kwargs[key] = value
    return cls(**kwargs)


# slots: one is made per item and kept until the job ends (20,000 frames: 20,000 of them);
# without a __dict__ each is smaller and quicker to make and read. Its __init__ is written out
# (init=False), as @dataclass would write it: made per frame, it must be as quick as the compiled
# one, which costs every start 1.5 M instructions to compile (tests/cli/test_startup.py compares them).
@dataclass(slots=True, init=False, repr=False, eq=False)
class FrameResult(Record):
    """What happened to one frame; `index` is its position in spec.selected_frames()."""

    job_id: str
    index: int
    frame: int
    source: str
    dest: str
    status: FrameStatus
    size: int = 0
    hash: str | None = None  # hex digest of the source bytes, spec.copy.hash_algo
    hash_algo: str | None = None
    error: str | None = None  # path, what went wrong, what to do
    elapsed: float = 0.0
    # (size, mtime_ns) of the source as copied and of the destination as written, when the
    # pipeline knows them: the journal records them instead of a stat of each path afterwards
    # (two stats a frame on its own thread, which competed with the copy for the interpreter).
    src_stat: tuple[int, int] | None = field(default=None, compare=False)
    dest_stat: tuple[int, int] | None = field(default=None, compare=False)

    def __init__(self, job_id: str, index: int, frame: int, source: str, dest: str, status: FrameStatus,
                 size: int = 0, hash: str | None = None, hash_algo: str | None = None, error: str | None = None,
                 elapsed: float = 0.0, src_stat: tuple[int, int] | None = None,
                 dest_stat: tuple[int, int] | None = None) -> None:
        self.job_id = job_id
        self.index = index
        self.frame = frame
        self.source = source
        self.dest = dest
        self.status = status
        self.size = size
        self.hash = hash
        self.hash_algo = hash_algo
        self.error = error
        self.elapsed = elapsed
        self.src_stat = src_stat
        self.dest_stat = dest_stat


@record(repr=False, eq=False)
class Progress(Record):
    """A snapshot of a running job. Throughput and ETA come from bytes."""

    job_id: str
    state: JobState
    frames_total: int
    frames_done: int = 0  # done or skipped
    frames_failed: int = 0
    frames_skipped: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    current_frame: int | None = None
    current_path: str | None = None
    bytes_per_s: float = 0.0
    eta_s: float | None = None
    message: str = ""

    @property
    def fraction(self) -> float:
        if self.bytes_total > 0:
            return min(1.0, self.bytes_done / self.bytes_total)
        if self.frames_total > 0:
            return min(1.0, (self.frames_done + self.frames_failed) / self.frames_total)
        return 0.0

    def copy(self, **changes: Any) -> Progress:
        return replace(self, **changes)


@record(repr=False, eq=False)
class LogMessage(Record):
    """A line for the job's log: info, a warning, or an error (path, what went wrong, what to do)."""

    job_id: str
    level: str  # "info" | "warning" | "error"
    text: str
    time: float = field(default_factory=time.time)


Event = Progress | FrameResult | LogMessage
Reporter = Callable[[Event], None]


def null_reporter(event: Event) -> None:
    """A reporter that drops every event."""


@record(repr=False, eq=False)
class JobResult(Record):
    """How a job ended: its state, every frame's result, bytes written and time taken."""

    job_id: str
    state: JobState
    frames: list[FrameResult] = field(default_factory=list)
    bytes_done: int = 0
    elapsed: float = 0.0
    message: str = ""

    @property
    def failed(self) -> list[FrameResult]:
        return [f for f in self.frames if f.status is FrameStatus.FAILED]

    @property
    def exit_code(self) -> int:
        """The command line's contract: 0 ok, 1 some frames failed, 130 cancelled."""
        if self.state is JobState.CANCELLED:
            return 130
        if self.state is JobState.FAILED or self.failed:
            return 1
        return 0


class ThroughputMeter:
    """Bytes per second over a sliding window, and an ETA from the bytes left."""

    def __init__(self, window: float = 3.0) -> None:
        self.window = window
        self._samples: list[tuple[float, int]] = []

    def add(self, total_bytes_done: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._samples.append((now, total_bytes_done))
        cutoff = now - self.window
        while len(self._samples) > 2 and self._samples[1][0] < cutoff:
            self._samples.pop(0)

    @property
    def rate(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def eta(self, bytes_left: int) -> float | None:
        rate = self.rate
        return bytes_left / rate if rate > 0 else None


class CancelToken:
    """Cancel, pause and 'stop after current frame' for one job; thread-safe.

    The engine calls `check()` between frames and between chunks; `check()` raises
    `Cancelled`, and blocks while paused. Callbacks registered with `on_cancel`
    (e.g. terminating an ffmpeg subprocess) run in the thread that cancels.
    """

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._running = threading.Event()  # set = not paused
        self._running.set()
        self._stop_after_frame = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self.cancelled_at: float | None = None  # time.monotonic() of the request

    # -- requests (any thread) --
    def cancel(self) -> None:
        with self._lock:
            if self._cancel.is_set():
                return
            self.cancelled_at = time.monotonic()
            self._cancel.set()
            self._running.set()  # wake a paused worker so it can see the cancel
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a failing hook must not stop the cancel
                pass

    def pause(self) -> None:
        if not self._cancel.is_set():
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop_after_frame(self) -> None:
        self._stop_after_frame.set()

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Register `callback`; returns a function that unregisters it."""
        with self._lock:
            already = self._cancel.is_set()
            if not already:
                self._callbacks.append(callback)
        if already:
            callback()

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove

    # -- queries (the worker) --
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_after_frame.is_set()

    def check(self) -> None:
        """Raise Cancelled if cancelled; block while paused (a cancel wakes it)."""
        if self._cancel.is_set():
            raise Cancelled()
        if not self._running.is_set():
            self._running.wait()
            if self._cancel.is_set():
                raise Cancelled()

    def check_frame_boundary(self) -> None:
        """Between frames: also honour 'stop after the current frame'."""
        self.check()
        if self._stop_after_frame.is_set():
            raise StopRequested()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (for bandwidth limits); True if cancelled meanwhile."""
        return self._cancel.wait(seconds)
