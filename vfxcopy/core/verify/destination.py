"""Re-verifying a destination against its ASC MHL history (or the journal's hashes): missing, altered, extra.

With an `ascmhl/` folder the history is read through the `ascmhl` library
(nested histories, renames) and the folder is walked with the history's own
ignore patterns, so the verdict agrees with `ascmhl verify` on folders the
reference tool wrote; the one deliberate difference is that a file re-delivered
by a later generation is checked against its newest original hash (see mhl_read).
"""

from __future__ import annotations

import collections
import fnmatch
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vfxcopy.core.errors import Cancelled, JobError, ManifestError
from vfxcopy.core.jobs import (
    CancelToken,
    FrameStatus,
    JobState,
    LogMessage,
    Progress,
    Reporter,
    ThroughputMeter,
    is_temp_name,
    null_reporter,
)
from vfxcopy.core.roundtrips import THREADS, ahead
from vfxcopy.core.textsafe import undecodable_escaped
from vfxcopy.core.verify.hashes import MHL_FORMAT, hash_path
from vfxcopy.core.verify.mhl_listing import TreeListing
from vfxcopy.core.verify.mhl_read import IGNORE_PATTERNS, MHL_FOLDER, History, ManifestRecord, load_history

if TYPE_CHECKING:
    from vfxcopy.core.journal import Journal


@dataclass
class Mismatch:
    path: str
    expected: str
    actual: str
    hash_format: str


@dataclass
class VerifyReport:
    """What `verify_destination` found; `passed` is False on any missing, altered or extra file."""

    root: str
    reference: str  # "ascmhl" or "journal"
    ok: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    altered: list[Mismatch] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what the ascmhl library complained about, not fatal
    nested: list[str] = field(default_factory=list)  # folders with their own history, folded in
    digests: dict[str, tuple[str, str]] = field(default_factory=dict)  # ok file -> (format, hash) it matched
    bytes_checked: int = 0
    elapsed: float = 0.0
    cancelled: bool = False

    @property
    def passed(self) -> bool:
        return not (self.missing or self.altered or self.extra or self.errors or self.cancelled)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": undecodable_escaped(self.root),
            "reference": self.reference,
            "passed": self.passed,
            "cancelled": self.cancelled,
            "files_ok": len(self.ok),
            "missing": [undecodable_escaped(p) for p in self.missing],
            "altered": [
                {"path": undecodable_escaped(m.path), "expected": m.expected, "actual": m.actual, "hash_format": m.hash_format}
                for m in self.altered
            ],
            "extra": [undecodable_escaped(p) for p in self.extra],
            "errors": [undecodable_escaped(e) for e in self.errors],
            "warnings": [undecodable_escaped(w) for w in self.warnings],
            "nested_histories": [undecodable_escaped(n) for n in self.nested],
            "bytes_checked": self.bytes_checked,
            "elapsed": round(self.elapsed, 3),
        }


def _ignored(rel: str, patterns: Iterable[str]) -> bool:
    parts = rel.split("/")
    for pattern in patterns:
        p = pattern.rstrip("/")
        if not p:
            continue
        if "/" in p:
            if fnmatch.fnmatchcase(rel, p.lstrip("/")):
                return True
        elif any(fnmatch.fnmatchcase(part, p) for part in parts):
            return True
    return False


def _walk(root: str, history: History | None, ignore: list[str], listing: TreeListing) -> list[str]:
    """Files under `root` (relative, sorted), minus ignored ones and vfxcopy's temps; links are not followed.
    `listing`: the folders as the history's reading listed them (mhl_listing), not listed again."""
    out: list[str] = []
    for dirpath, dirnames, filenames in listing.walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        if history is not None:
            keep = [d for d in dirnames if not history.ignored(os.path.join(dirpath, d), True)]
        else:
            keep = [d for d in dirnames if not _ignored(rel_dir + d, ignore)]
        # A link to a folder is listed (as ascmhl does) but not entered.
        for d in keep:
            if os.path.islink(os.path.join(dirpath, d)):
                filenames.append(d)
        dirnames[:] = sorted(d for d in keep if not os.path.islink(os.path.join(dirpath, d)))
        for name in filenames:
            rel = rel_dir + name
            if is_temp_name(name):
                continue
            if history is not None:
                if history.ignored(os.path.join(dirpath, name)):
                    continue
            elif _ignored(rel, ignore):
                continue
            out.append(rel)
    return sorted(out)


def _hashes(
    root: str, present: list[str], expected: dict[str, ManifestRecord], token: CancelToken,
    tick: Callable[[int], None], threads: int,
) -> Iterator[tuple[str, str | OSError]]:
    """(path, its hash now or the OSError reading it) for each of `present`, in order; `threads`
    files at once, a few ahead of the one given out, so that a cancel waits for no queue."""

    def one(rel: str) -> tuple[str, str | OSError]:
        token.check()
        try:
            return rel, hash_path(os.path.join(root, rel), expected[rel].hash_format, token, on_chunk=tick)
        except OSError as exc:
            return rel, exc

    if threads <= 1:
        yield from map(one, present)
        return
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: collections.deque[Future[tuple[str, str | OSError]]] = collections.deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="vfxcopy-verify") as pool:
        try:
            for rel in present:
                pending.append(pool.submit(one, rel))
                if len(pending) >= threads * 2:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # cancelled or failed: what has not started does not start
                future.cancel()


def expected_from_journal(root: str, journal: Journal) -> dict[str, ManifestRecord]:
    """The journal's latest hash for every frame placed in `root` by a finished job."""
    records: dict[str, ManifestRecord] = {}
    real_root = os.path.realpath(root)
    real: dict[str, str] = {}  # each folder resolved once: most jobs share a few
    for job_id, dest_dir in journal.dest_dirs():  # oldest first: later jobs win
        if dest_dir not in real:
            real[dest_dir] = os.path.realpath(dest_dir)
        if real[dest_dir] != real_root:
            continue
        for fr in journal.frames(job_id):
            if fr.status not in (FrameStatus.DONE, FrameStatus.SKIPPED) or not fr.hash:
                continue
            fmt = MHL_FORMAT.get(fr.hash_algo or "", "")
            if not fmt:
                continue
            rel = os.path.relpath(fr.dest, dest_dir).replace(os.sep, "/")  # as the job named the folder
            if rel.startswith("../"):
                continue
            records[rel] = ManifestRecord(rel, fmt, fr.hash, fr.size, 0)
    return records


def _reference(
    root: str, journal: Journal | None, listing: TreeListing,
) -> tuple[History | None, dict[str, ManifestRecord], list[str], str]:
    """What `root` is checked against: (its history, the expected files, ignore patterns, "ascmhl" or "journal")."""
    from vfxcopy.core.verify.mhl_write import is_xml_safe

    if os.path.lexists(os.path.join(root, MHL_FOLDER)):
        history = load_history(root, listing)
        expected = dict(history.records)
        if journal is not None:
            # Names XML cannot carry (not valid UTF-8) are not in the manifest; the journal has them.
            for rel, rec in expected_from_journal(root, journal).items():
                if rel not in expected and not is_xml_safe(rel):
                    expected[rel] = rec
        return history, expected, history.ignore, "ascmhl"
    if journal is not None:
        expected = expected_from_journal(root, journal)
        if not expected:
            raise JobError(f"{root}: no ASC MHL history and no hashes in the journal for this folder; "
                           "nothing to check it against: verify a folder vfxcopy copied, or give a checksum "
                           "list (--checksum-list FILE)")
        return None, expected, list(IGNORE_PATTERNS), "journal"
    raise ManifestError(f"{root}: no ASC MHL history ({MHL_FOLDER}/ folder missing); verify a folder vfxcopy "
                        "copied, or give a checksum list (--checksum-list FILE)")


def verify_destination(
    path: str | os.PathLike[str],
    token: CancelToken | None = None,
    report: Reporter = null_reporter,
    journal: Journal | None = None,
) -> VerifyReport:
    """Re-hash `path` against its ASC MHL history (or the journal's hashes when it has none).

    Reports `Progress` (bytes of the files listed) through `report`; a cancel
    returns the partial report with `cancelled` set. Raises ManifestError when
    the history is damaged or foreign, JobError when there is nothing to check against.
    """
    token = token or CancelToken()
    root = os.path.abspath(os.fspath(path))
    started = time.monotonic()
    if not os.path.isdir(root):
        raise JobError(f"{root}: not a folder")
    listing = TreeListing(root, token)  # the history's reading and the search for files share it
    try:
        history, expected, ignore, reference = _reference(root, journal, listing)
        on_disk = _walk(root, history, ignore, listing)
    except Cancelled:  # while the history or the folder was read (round trips on a network file system)
        against = "ascmhl" if os.path.lexists(os.path.join(root, MHL_FOLDER)) else "journal"
        result = VerifyReport(root=root, reference=against, cancelled=True, elapsed=time.monotonic() - started)
        report(Progress("verify", JobState.CANCELLED, 0))
        return result
    result = VerifyReport(root=root, reference=reference)
    if history is not None:
        result.warnings = list(history.warnings)
        result.nested = list(history.nested)
    on_disk_set = set(on_disk)
    result.extra = [p for p in on_disk if p not in expected]

    def listed_but_ignored(rel: str) -> bool:
        if history is not None:
            return history.ignored(os.path.join(root, rel))
        return _ignored(rel, ignore)

    todo = sorted(p for p in expected if not listed_but_ignored(p))
    present = [p for p in todo if p in on_disk_set]
    result.missing = [p for p in todo if p not in on_disk_set]
    if history is not None:
        result.missing += sorted(f"{d}/" for d in history.directories
                                 if d != "." and not os.path.isdir(os.path.join(root, d))
                                 and not listed_but_ignored(d))
    # On a network file system each file's size, open and read is a round trip: several at once
    # (10,500 files of 1 KB on sshfs took 7.2-8.2 s one at a time).
    threads = THREADS if listing.network() else 1
    sizes: dict[str, int] = {}

    def size_of(rel: str) -> None:
        token.check()
        try:
            sizes[rel] = os.path.getsize(os.path.join(root, rel))
        except OSError:
            sizes[rel] = 0

    try:
        if threads > 1:
            ahead(present, size_of)  # a cancel meanwhile: each thread's next look raises at once
        for rel in present:
            if rel not in sizes:
                size_of(rel)
    except Cancelled:
        result.cancelled = True
    total = sum(sizes.values())
    job_id = "verify"
    last = [0.0]
    done_bytes = [0]
    counting = threading.Lock()  # the hashing threads count their bytes here
    meter = ThroughputMeter()

    def tick(n: int) -> None:
        with counting:
            done_bytes[0] += n
            now = time.monotonic()
            if now - last[0] < 0.1:
                return
            last[0] = now
            meter.add(done_bytes[0], now)
            done = done_bytes[0]
        report(Progress(job_id, JobState.RUNNING, len(present), frames_done=len(result.ok),
                        bytes_total=total, bytes_done=done, bytes_per_s=meter.rate, eta_s=meter.eta(total - done)))

    try:
        for rel, actual in _hashes(root, present if not result.cancelled else [], expected, token, tick, threads):
            full = os.path.join(root, rel)
            rec = expected[rel]
            if isinstance(actual, OSError):
                result.errors.append(f"{full}: cannot be read ({actual.strerror})")
                continue
            if actual.lower() == rec.hash.lower():
                result.ok.append(rel)
                result.digests[rel] = (rec.hash_format, actual.lower())
            else:
                result.altered.append(Mismatch(rel, rec.hash, actual, rec.hash_format))
                report(LogMessage(job_id, "error", f"{full}: altered ({rec.hash_format} {actual}, "
                                  f"manifest says {rec.hash})"))
    except Cancelled:
        result.cancelled = True
    result.bytes_checked = done_bytes[0]
    result.elapsed = time.monotonic() - started
    state = JobState.CANCELLED if result.cancelled else JobState.COMPLETED
    report(Progress(job_id, state, len(present), frames_done=len(result.ok),
                    frames_failed=len(result.altered) + len(result.errors),
                    bytes_total=total, bytes_done=done_bytes[0]))
    return result
