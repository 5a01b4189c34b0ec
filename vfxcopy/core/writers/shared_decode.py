"""Renditions of one source share each frame's decode: several conversion jobs, one read per frame.

Every rendition (a DWAA master, half-res JPEG proxies, a review movie) is its own
conversion job with its own destination, temps, conflicts, verification and result;
the jobs share `JobSpec.group`. Their writers (writers/image.py, writers/movie.py)
ask the group for a source frame instead of reading it: the first member that asks
decodes it with OpenImageIO (the read releases the GIL), the others wait for that
decode and reuse the buffer read-only (each one resizes and colour-converts into
its own buffers). A frame is dropped from the group once every live member has
used it or has gone past it.

Rules kept:
- The decode is what each member would have read itself: subimage 0, every channel,
  the file's own pixel type. The members that work in float share one float copy of it
  (bit-exact: half, 8/10/16-bit integers convert the same as a float read does).
- Memory is bounded: the group holds at most FRAMES_PER_THREAD frames per member
  thread. A member ahead of the others waits for room (looking at its own cancel
  every POLL_S) instead of decoding further ahead; after WAIT_S it stops waiting for
  the members that hold the room (paused, or skipping frames that exist already):
  they are detached and decode on their own until they catch up. Nothing waits forever.
- A member that ends (done, failed, cancelled) leaves; nothing ever waits for it. A
  member alone in its group (a resume of one rendition) decodes alone, as without a group.
- Correctness never depends on the cache: a frame not found (dropped, failed, late
  member) is decoded by the member that needs it.
- Colour conversions are shared the same way (`Member.colour`): renditions whose steps up to
  the conversion are the same (channels, a shrink before it, from/to space, view, OCIO config:
  convert.FrameProcessor.colour_key) take one conversion per frame, made by the first that
  asks; the others wait for it (looking at their cancel) and read it only. A converted frame
  goes once every member that converts with that key has taken it, or has gone past it; the
  group holds at most `capacity()` of them (the oldest go first: that costs a conversion,
  never a wait). A rendition that shrinks before converting (half-res proxies) has another
  key than a full-res one (a review movie): it converts its own, as its own job would.

Wiring (nothing else is needed to make renditions: give their JobSpecs one fresh `group`
and submit them together with `JobQueue.submit_all`):
- the queue calls `expect(group, job_ids)` as it starts a group's conversions, so that the
  first member keeps frame one for the others that have not joined yet, and `leave` when
  each job ends (also one that ended before its pipeline began);
- run_with_writer (writers/__init__.py) joins each conversion of a group and leaves on every path:

    member = shared_decode.join(spec.group, spec.job_id, window=threads)
    try:
        frame = member.read(path, frame_number, as_float, check)  # Frame(buf, shared)
        ...  # frame.shared: other renditions read frame.buf too: never modify it in place
    finally:
        shared_decode.leave(spec.group, spec.job_id)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import OpenImageIO as oiio

from vfxcopy.core.convert import private_copy, read_frame
from vfxcopy.core.writers.groups import Registry

FRAMES_PER_THREAD = 1  # frames the group may hold per member thread (1080p half RGB: 12 MB, 36 MB with its float copy)
WAIT_S = 5.0  # a member ahead waits this long for room before it detaches the members holding it
POLL_S = 0.01  # how often a waiting member looks at its own cancel (cancel stays within milliseconds)
DEFAULT_WINDOW = 2  # frames a member has in flight at once, until it joins and says

# Called with the source path before every decode a conversion writer makes (shared or alone):
# tests and benchmarks count decodes with it. Must be cheap and must not raise.
on_decode: Callable[[str], None] | None = None


def decode(path: str, as_float: bool = False) -> oiio.ImageBuf:
    """Read a whole frame (convert.read_frame), announced to `on_decode`."""
    hook = on_decode
    if hook is not None:
        hook(path)
    return read_frame(path, as_float=as_float)


@dataclass(frozen=True)
class Frame:
    """A decoded source frame; `shared`: other renditions read `buf` too (never modify it in place)."""

    buf: oiio.ImageBuf
    shared: bool


def read_alone(path: str, as_float: bool) -> Frame:
    """The frame as a job without a group reads it."""
    return Frame(decode(path, as_float), False)


def _is_float(buf: oiio.ImageBuf) -> bool:
    return str(buf.spec().format) == "float"


@dataclass(eq=False)
class _Entry:
    path: str
    frame: int
    buf: oiio.ImageBuf | None = None  # the file's pixel type; None while the first member decodes it
    fbuf: oiio.ImageBuf | None = None  # its float copy, made once for the members that filter or convert
    deriving: bool = False  # a member is making fbuf
    users: set[str] = field(default_factory=set)

    def wanted(self, as_float: bool) -> oiio.ImageBuf | None:
        """The buffer a member asking for `as_float` takes (None: not there yet)."""
        if self.buf is None or not as_float or _is_float(self.buf):
            return self.buf
        return self.fbuf


@dataclass(eq=False)
class _Converted:
    """A colour-converted frame shared by the members that convert with one key."""

    frame: int
    buf: oiio.ImageBuf | None = None  # None while the first member converts it
    users: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _MemberState:
    window: int = DEFAULT_WINDOW
    joined: bool = False  # False: announced by `expect`, its job is starting
    attached: bool = True  # False: the others stopped waiting for it (it lagged past WAIT_S)
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=64))  # frames it asked for lately
    converts: bool | None = None  # None: not said yet (its writer is not made): conversions are kept for it
    keys: set[Hashable] = field(default_factory=set)  # the colour keys it asked for

    def wants(self, key: Hashable) -> bool:
        """It may ask for conversions keyed `key` (the keys it asked for so far, any before it asked)."""
        if self.converts is False:
            return False
        return key in self.keys if self.keys else True

    def passed(self, frame: int) -> bool:
        """It asked for well more later frames than it has in flight: it will not ask for `frame` (skipped)."""
        return sum(1 for f in self.recent if f > frame) > 2 * self.window + 1


class DecodeGroup:
    """The members of one group and the frames decoded for them (under one condition)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.cond = threading.Condition()
        self.members: dict[str, _MemberState] = {}
        self.entries: dict[str, _Entry] = {}
        self.converted: dict[tuple[str, Hashable], _Converted] = {}  # (source path, colour key)
        self.conversions = 0  # colour conversions made for the group (for tests)
        self.conversion_hits = 0  # conversions a member took from another's
        self.decodes = 0  # shared decodes made (for tests and the benchmark)
        self.hits = 0  # frames a member took from another's decode
        self.peak = 0  # most frames held at once

    # -- under self.cond --
    def capacity(self) -> int:
        threads = sum(m.window for m in self.members.values() if m.attached)
        return max(2, FRAMES_PER_THREAD * threads)

    def needs(self, member_id: str, m: _MemberState, e: _Entry) -> bool:
        return m.attached and member_id not in e.users and not m.passed(e.frame)

    def others_need(self, me: str, frame: int) -> bool:
        return any(k != me and m.attached and not m.passed(frame) for k, m in self.members.items())

    def ahead(self, me: str, frame: int) -> bool:
        """Every frame held that `me` still needs is behind `frame`: the others owe the room, not `me`."""
        return all(me in e.users or e.frame < frame for e in self.entries.values())

    def needs_converted(self, member_id: str, m: _MemberState, key: Hashable, c: _Converted) -> bool:
        return m.attached and member_id not in c.users and not m.passed(c.frame) and m.wants(key)

    def sweep(self) -> None:
        for path, e in list(self.entries.items()):
            if e.buf is not None and not any(self.needs(k, m, e) for k, m in self.members.items()):
                del self.entries[path]
        for ck, c in list(self.converted.items()):
            if c.buf is not None and not any(self.needs_converted(k, m, ck[1], c) for k, m in self.members.items()):
                del self.converted[ck]

    def room_for_conversion(self) -> bool:
        """Make room for one more converted frame (the oldest finished go); False: all are being made."""
        while len(self.converted) >= self.capacity():
            done = [(c.frame, ck) for ck, c in self.converted.items() if c.buf is not None]
            if not done:
                return False
            del self.converted[min(done, key=lambda d: d[0])[1]]
        return True

    def detach_laggards(self, me: str) -> None:
        for e in self.entries.values():
            for k, m in self.members.items():
                if k != me and self.needs(k, m, e):
                    m.attached = False
        self.sweep()


class Member:
    """One job's place in its decode group; `read` is called from that job's threads."""

    def __init__(self, group: DecodeGroup, member_id: str) -> None:
        self.group = group
        self.id = member_id

    def read(self, path: str, frame: int, as_float: bool, check: Callable[[], None]) -> Frame:
        """Source frame `frame` (file `path`), decoded once for the group.

        `as_float`: 32-bit float pixels (as `read_frame(as_float=True)` gives). `check` raises
        Cancelled (and may block while paused); it is called every POLL_S while this member
        waits, never with the group's lock held.
        """
        g = self.group
        waited_since: float | None = None
        with g.cond:
            state = g.members.get(self.id)
            if state is None:
                return read_alone(path, as_float)  # left already (never expected)
            state.recent.append(frame)
            state.attached = True
        while True:
            with g.cond:
                action = self._next(path, frame, as_float, waited_since)
                if action == "hit":
                    hit = g.entries[path]
                    buf = hit.wanted(as_float)
                    assert buf is not None
                    self._used(hit)
                    g.hits += 1
                    return Frame(buf, True)
                if action == "room" and waited_since is None:
                    waited_since = time.monotonic()
                if action in ("room", "wait"):
                    g.cond.wait(POLL_S)
                entry = g.entries.get(path)  # for 'derive' and 'decode'
            if action == "alone":
                return read_alone(path, as_float)
            if action == "decode" and entry is not None:
                return self._decode(entry, as_float)
            if action == "derive" and entry is not None:
                return self._derive(entry)
            check()

    def _next(self, path: str, frame: int, as_float: bool, waited_since: float | None) -> str:
        """What to do now: 'hit', 'wait' (another member decodes it), 'room' (wait: too far ahead),
        'derive' (its float copy), 'decode' (for the group) or 'alone'."""
        g = self.group
        entry = g.entries.get(path)
        if entry is not None:
            if entry.wanted(as_float) is not None:
                return "hit"
            if entry.buf is None or entry.deriving:
                return "wait"  # another member decodes it, or makes its float copy
            entry.deriving = True
            return "derive"
        if not g.others_need(self.id, frame):
            return "alone"
        if len(g.entries) >= g.capacity() and g.ahead(self.id, frame):
            if waited_since is None or time.monotonic() - waited_since < WAIT_S:
                return "room"
            g.detach_laggards(self.id)
            if not g.others_need(self.id, frame):
                return "alone"
        g.entries[path] = _Entry(path, frame, deriving=as_float)
        g.peak = max(g.peak, len(g.entries))
        return "decode"

    def _used(self, entry: _Entry) -> None:
        """Under the lock: this member has its buffer; the frame goes once nobody else needs it."""
        g = self.group
        entry.users.add(self.id)
        g.sweep()
        g.cond.notify_all()

    def _decode(self, entry: _Entry, as_float: bool) -> Frame:
        g = self.group
        try:
            buf = decode(entry.path)  # the file's own pixel type: what every member starts from
        except BaseException:
            with g.cond:
                if g.entries.get(entry.path) is entry:
                    del g.entries[entry.path]  # the waiters decode it themselves (and meet the error themselves)
                g.cond.notify_all()
            raise
        with g.cond:
            g.decodes += 1
            entry.buf = buf
            if not as_float or _is_float(buf):
                entry.deriving = False
                self._used(entry)
                return Frame(buf, True)
            g.cond.notify_all()  # the members that want the file's own pixels go on meanwhile
        return self._derive(entry)

    def _derive(self, entry: _Entry) -> Frame:
        """Make the float copy of a decoded frame, once for the group (entry.deriving is set)."""
        g = self.group
        assert entry.buf is not None
        try:
            fbuf = private_copy(entry.buf, oiio.TypeDesc(oiio.FLOAT))
        except BaseException:
            with g.cond:
                entry.deriving = False
                g.cond.notify_all()
            raise
        with g.cond:
            entry.fbuf = fbuf
            entry.deriving = False
            self._used(entry)
        return Frame(fbuf, True)

    def expect_conversions(self, converts: bool) -> None:
        """Said once by the member's writer: whether it colour-converts frames (else none is kept for it)."""
        g = self.group
        with g.cond:
            state = g.members.get(self.id)
            if state is not None:
                state.converts = converts
                g.sweep()
                g.cond.notify_all()

    def colour(self, path: str, frame: int, key: Hashable, make: Callable[[], oiio.ImageBuf],
               check: Callable[[], None]) -> tuple[oiio.ImageBuf, bool]:
        """Source frame `frame` converted as `key` says: made by `make` once for the members that ask.

        Returns (buf, shared): `shared`, other members read `buf` too (never modify it in place).
        `check` is called every POLL_S while another member makes it, never with the lock held.
        """
        g = self.group
        ck = (path, key)
        while True:
            with g.cond:
                state = g.members.get(self.id)
                if state is None:
                    return make(), False  # left already
                state.keys.add(key)
                state.converts = True
                c = g.converted.get(ck)
                if c is not None and c.buf is not None:
                    c.users.add(self.id)
                    g.conversion_hits += 1
                    buf = c.buf
                    g.sweep()
                    g.cond.notify_all()
                    return buf, True
                if c is None:
                    others = any(k != self.id and m.attached and not m.passed(frame) and m.wants(key)
                                 for k, m in g.members.items())
                    if not others or not g.room_for_conversion():
                        mine: _Converted | None = None
                    else:
                        mine = g.converted[ck] = _Converted(frame)
                    break
                g.cond.wait(POLL_S)  # another member converts it
            check()
        try:
            buf = make()
        except BaseException:
            if mine is not None:
                with g.cond:
                    if g.converted.get(ck) is mine:
                        del g.converted[ck]  # the waiters convert it themselves (and meet the error themselves)
                    g.cond.notify_all()
            raise
        if mine is None:
            return buf, False
        with g.cond:
            g.conversions += 1
            mine.buf = buf
            mine.users.add(self.id)
            g.sweep()
            g.cond.notify_all()
        return buf, True

    def leave(self) -> None:
        leave(self.group.key, self.id)


def _remove(group: DecodeGroup, member_id: str) -> bool:
    """Take the member out; True when nobody reads through the group any more (it is dropped)."""
    with group.cond:
        group.members.pop(member_id, None)
        group.sweep()
        group.cond.notify_all()
        # Kept while a member has joined or is announced and still starting (`expect`): its job leaves
        # too when it ends, however it ends. Dropped with only announced members left, the group took
        # them with it: one rendition failing at once (a destination that cannot be made) sent the
        # others to groups of their own, where the first to start decoded frames alone.
        if group.members:
            return False
        group.entries.clear()
        group.converted.clear()
        return True


_groups: Registry[DecodeGroup] = Registry(DecodeGroup)


def expect(key: str, member_ids: list[str]) -> None:
    """Members about to start together: frames decoded before they join are kept for them."""
    group = _groups.get(key)
    with group.cond:
        for member_id in member_ids:
            group.members.setdefault(member_id, _MemberState())


def join(key: str, member_id: str, window: int = DEFAULT_WINDOW) -> Member:
    """`member_id` (a job id) reads through group `key`; `window`: frames it decodes at once (its threads).

    Joining as the group's last member leaves can land in the group being dropped: that member
    then decodes alone, which is what it would do in a group of its own anyway.
    """
    group = _groups.get(key)
    with group.cond:
        state = group.members.setdefault(member_id, _MemberState())
        state.window = max(1, window)
        state.joined = True
        state.attached = True
        group.cond.notify_all()
    return Member(group, member_id)


def leave(key: str, member_id: str) -> None:
    """The member's job ended (any path): nothing waits for it any more. Safe to call twice."""
    _groups.leave(key, member_id, _remove)


def group_of(key: str) -> DecodeGroup | None:
    """The live group `key` (tests and the benchmark read its counters); None once every member left."""
    return _groups.find(key)
