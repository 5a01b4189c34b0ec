"""vfxcopy: copy and convert VFX image sequences as cancellable jobs."""

__version__ = "0.1.0"
