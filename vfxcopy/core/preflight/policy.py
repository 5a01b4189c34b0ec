"""What a job does about each finding kind (`JobSpec.preflight`): refuse, warn or ignore."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vfxcopy.core.preflight.model import GROUPS, Finding, Kind, PreflightOptions, Report

if TYPE_CHECKING:
    from vfxcopy.core.jobs import JobSpec

REFUSE, WARN, IGNORE = "refuse", "warn", "ignore"
ACTIONS = (REFUSE, WARN, IGNORE)

# A job with a pre-flight but without a word about a kind: frames that cannot be used
# refuse the job; frames that merely differ warn; duplicates (a hash of frames of equal
# size, see analyse.find_duplicates) are only looked for when asked.
DEFAULT_ACTIONS: dict[Kind, str] = {
    Kind.EMPTY: REFUSE,
    Kind.TRUNCATED: REFUSE,
    Kind.UNDECODABLE: REFUSE,
    Kind.GAP: WARN,
    Kind.RESOLUTION: WARN,
    Kind.WINDOW: WARN,
    Kind.CHANNELS: WARN,
    Kind.PIXEL_TYPE: WARN,
    Kind.COMPRESSION: WARN,
    Kind.COLORSPACE: WARN,
    Kind.SIZE: WARN,
    Kind.DUPLICATE: IGNORE,
}

_EXAMPLES_PER_KIND = 3


def kinds_named(name: str) -> frozenset[Kind]:
    """'truncated' -> {TRUNCATED}; 'outlier' -> every outlier kind. Raises ValueError."""
    name = name.strip().lower().replace("-", "_")
    if name in GROUPS:
        return GROUPS[name]
    try:
        return frozenset({Kind(name)})
    except ValueError:
        known = ", ".join([k.value for k in Kind] + sorted(GROUPS))
        raise ValueError(f"unknown finding kind {name!r} (known: {known})") from None


def parse_policy(text: str) -> dict[str, str]:
    """'truncated=refuse,outlier=warn' -> {kind: action} for every kind named (groups expanded).

    Later entries win, so 'all=warn,truncated=refuse' refuses truncated frames only.
    Raises ValueError with a message fit for the user.
    """
    policy: dict[str, str] = {}
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    if not parts:
        raise ValueError("empty pre-flight policy (expected e.g. truncated=refuse,outlier=warn)")
    for part in parts:
        name, eq, action = part.partition("=")
        action = action.strip().lower()
        if not eq or action not in ACTIONS:
            raise ValueError(f"bad pre-flight rule {part!r} (expected KIND=refuse|warn|ignore)")
        for kind in kinds_named(name):
            policy[kind.value] = action
    return policy


def action_for(policy: dict[str, str] | None, kind: Kind) -> str:
    """The action for `kind`: its own entry, else its group's ('outlier', 'broken', 'all'), else the default."""
    if policy:
        if kind.value in policy:
            return policy[kind.value]
        for group in ("outlier", "broken", "all"):
            if group in policy and kind in GROUPS[group]:
                return policy[group]
    return DEFAULT_ACTIONS[kind]


def full_policy(policy: dict[str, str] | None) -> dict[str, str]:
    """Every kind with its action (what a job with `policy` will do)."""
    return {kind.value: action_for(policy, kind) for kind in Kind}


def options_from_policy(policy: dict[str, str] | None, base: PreflightOptions | None = None) -> PreflightOptions:
    """Look only for the kinds the policy does not ignore (duplicates cost a read of equal-size frames)."""
    options = base or PreflightOptions()
    kinds = frozenset(k for k in Kind if action_for(policy, k) != IGNORE)
    options.kinds = kinds
    options.duplicates = Kind.DUPLICATE in kinds
    return options


def _describe(kind: str, findings: list[Finding]) -> str:
    examples = "; ".join(f.text() for f in findings[:_EXAMPLES_PER_KIND])
    more = f"; and {len(findings) - _EXAMPLES_PER_KIND} more" if len(findings) > _EXAMPLES_PER_KIND else ""
    return f"{len(findings)} {kind} ({examples}{more})"


def policy_verdict(spec: JobSpec, report: Report) -> tuple[str | None, list[str]]:
    """(why the job is refused, or None; one warning line per finding the policy warns about).

    A job without a policy (`spec.preflight is None`) is never refused and gets no warnings.
    """
    if spec.preflight is None:
        return None, []
    refused: dict[str, list[Finding]] = {}
    warnings: list[str] = []
    for finding in report.findings:
        action = action_for(spec.preflight, finding.kind)
        if action == REFUSE:
            refused.setdefault(finding.kind.value, []).append(finding)
        elif action == WARN:
            warnings.append(f"pre-flight {finding.kind.value}: {finding.text()}")
    if not refused:
        return None, warnings
    kinds = sorted(refused)
    message = (
        f"pre-flight refused {spec.display_name()}: "
        + "; ".join(_describe(kind, refused[kind]) for kind in kinds)
        + f". Nothing was copied. Fix or replace these frames, or let the job through with "
        f"--preflight {kinds[0]}=warn (or the New job dialog's pre-flight settings)."
    )
    return message, warnings
