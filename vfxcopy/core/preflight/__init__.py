"""Pre-flight checks of sequences (gaps, broken frames, outliers, duplicates) and the refuse/warn/ignore policy."""

from __future__ import annotations

from vfxcopy.core.preflight.model import (
    BROKEN_KINDS,
    GROUPS,
    OUTLIER_KINDS,
    Finding,
    FrameInfo,
    Kind,
    PreflightOptions,
    Report,
)
from vfxcopy.core.preflight.policy import (
    ACTIONS,
    DEFAULT_ACTIONS,
    IGNORE,
    REFUSE,
    WARN,
    action_for,
    full_policy,
    kinds_named,
    options_from_policy,
    parse_policy,
    policy_verdict,
)
from vfxcopy.core.preflight.run import ProgressFn, preflight_job, run_preflight

__all__ = [
    "ACTIONS", "BROKEN_KINDS", "DEFAULT_ACTIONS", "GROUPS", "IGNORE", "OUTLIER_KINDS", "REFUSE", "WARN",
    "Finding", "FrameInfo", "Kind", "PreflightOptions", "ProgressFn", "Report",
    "action_for", "full_policy", "kinds_named", "options_from_policy", "parse_policy", "policy_verdict",
    "preflight_job", "run_preflight",
]
