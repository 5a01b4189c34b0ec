"""Sources plus options -> JobSpecs: the one Qt-free spec builder of the command line and the New job dialog."""

from __future__ import annotations

from dataclasses import replace

from vfxcopy.core.jobs import CopyOptions, JobSpec, Operation

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.frames import FrameSet
    from vfxcopy.core.jobs import ConvertOptions
    from vfxcopy.core.sequence import Sequence


class SpecError(ValueError):
    """The options cannot make a job from these sources; the message says why."""


# Plain classes, not dataclasses: nothing compares, copies or lists the fields of these two
# carriers, and making a dataclass costs about 0.4 ms of every start of the command line.
class JobOptions:
    """What every job of one request shares (a command line, one New job dialog)."""

    __slots__ = ("operation", "frames", "rename_head", "offset", "copy", "convert", "origin")

    def __init__(
        self,
        operation: Operation = Operation.COPY,
        # Only these frame numbers; None: every frame. A FrameSet holds ranges, so that
        # `--frames 1-10000000` costs no memory per frame asked for.
        frames: FrameSet | list[int] | None = None,
        rename_head: str | None = None,  # new head (needs exactly one source sequence)
        offset: int = 0,  # added to every frame number at the destination
        copy: CopyOptions | None = None,  # None: CopyOptions()
        convert: ConvertOptions | None = None,  # for Operation.CONVERT
        origin: str = "cli",  # "cli", "gui", "watch:<rule>" ...
    ) -> None:
        self.operation = operation
        self.frames = frames
        self.rename_head = rename_head
        self.offset = offset
        self.copy: CopyOptions = copy if copy is not None else CopyOptions()
        self.convert = convert
        self.origin = origin

    def __repr__(self) -> str:
        return f"JobOptions({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"


class Built:
    """The specs, and notes for the user about what was left out and why."""

    __slots__ = ("specs", "notes")

    def __init__(self, specs: list[JobSpec], notes: list[str] | None = None) -> None:
        self.specs = specs
        self.notes: list[str] = notes if notes is not None else []

    def __repr__(self) -> str:
        return f"Built(specs={self.specs!r}, notes={self.notes!r})"


def build_specs(sources: list[Sequence], dest_dir: str, options: JobOptions) -> Built:
    """One JobSpec per source, honouring the frame selection, the new head and the offset.

    Sources the frame selection leaves empty (and single files, when frames are
    chosen) are left out with a note. Raises SpecError when a new head would give
    several sources the same name, or when nothing is left to do.
    """
    notes: list[str] = []
    wanted = options.frames
    if wanted is not None:
        from vfxcopy.core.frames import FrameSet  # only with a frame selection (start-up)

        if not isinstance(wanted, FrameSet):
            wanted = FrameSet.of(wanted)
    rename = options.rename_head
    multi = [s for s in sources if not s.is_single]
    if rename is not None and (len(multi) > 1 or (multi and len(sources) > len(multi))):
        raise SpecError("a new head needs exactly one source sequence (several would get the same name)")
    if options.operation is Operation.CONVERT and options.convert is None:
        raise SpecError("a conversion needs its options (target format)")
    specs: list[JobSpec] = []
    for seq in sources:
        frames: list[int] | None = None
        if wanted is not None:
            if seq.is_single:
                notes.append(f"{seq.path()}: not a sequence, skipped because frames were chosen")
                continue
            frames = wanted.select(seq.frames)
            if not frames:
                notes.append(f"{seq.pattern()}: none of the chosen frames exist, skipped")
                continue
            absent = len(wanted) - len(frames)
            if absent:
                notes.append(f"{seq.pattern()}: {absent} of the chosen frames do not exist and are left out")
        specs.append(
            JobSpec(
                source=seq,
                dest_dir=dest_dir,
                operation=options.operation,
                frames=frames,
                rename_head=rename if not seq.is_single else None,
                offset=options.offset,
                # Each job its own copy: a later edit of one job never changes another.
                copy=replace(options.copy),
                convert=replace(options.convert) if options.convert is not None else None,
                origin=options.origin,
            )
        )
    if not specs:
        raise SpecError("nothing to do: no sequence or file matches")
    return Built(specs, notes)
