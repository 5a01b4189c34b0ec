"""The user's home folder, or a clear error where there is none.

A render-farm task or a container often runs as a user id with no entry in the password
database and no HOME: the settings file and the job journal then have no per-user folder.
`home()` says so with what to set (VFXCOPY_CONFIG_DIR, VFXCOPY_DATA_DIR or HOME), as an
OSError, which every command already turns into a message (the settings: the defaults apply;
the journal: the run goes on without it), never a traceback.
"""

from __future__ import annotations

import os


class NoHomeError(OSError):
    """No home folder to keep per-user files in."""


def home() -> str:
    """$HOME when it is an absolute path, else the password database's home of this user."""
    found = os.environ.get("HOME", "")
    if os.path.isabs(found):
        return found
    if found:
        raise NoHomeError(f"HOME is not an absolute path ({found!r}): set it to your home folder, or set "
                          "VFXCOPY_CONFIG_DIR and VFXCOPY_DATA_DIR")
    expanded = os.path.expanduser("~")  # without HOME: the password database (Windows: USERPROFILE)
    if expanded != "~" and os.path.isabs(expanded):
        return expanded
    uid = os.getuid() if hasattr(os, "getuid") else "?"
    raise NoHomeError(f"no home folder: HOME is not set and user {uid} has none in the password database; "
                      "set HOME, or VFXCOPY_CONFIG_DIR and VFXCOPY_DATA_DIR")
