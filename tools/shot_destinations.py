"""Screenshots of the New job dialog with three destinations (one read), and the table rows they become."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import screenshot as shots  # noqa: E402  (tools/screenshot.py: Shooter, window manager, scenes)

from vfxcopy.core.jobs import JobState  # noqa: E402
from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence  # noqa: E402
from vfxcopy.core.seqfind import scan  # noqa: E402


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "shots"
    with shots.window_session(out) as (window, root, shooter):
        card = root / "media" / "CARD_A003"
        make_exr_sequence(card / "A003_C012", head="A003_C012_0419XY.", count=24, width=320, height=180)
        make_exr_sequence(card / "A003_C013", head="A003_C013_0419KF.", count=16, width=320, height=180)
        make_byte_sequence(card / "A003_C014", head="A003_C014_0419QS.", count=48, size=512 * 1024)
        seqs = sorted(scan([card], stat=True, recursive=True), key=lambda s: s.head)
        dests = [root / "mnt" / "raid_work" / "show" / "day_012",
                 root / "mnt" / "shuttle_A" / "show" / "day_012",
                 root / "mnt" / "lto_staging" / "show" / "day_012"]
        from vfxcopy.gui.dialogs import new_job

        picks = [str(d) for d in dests[1:]]
        new_job.choose_folder = lambda parent, start: picks.pop(0)  # type: ignore[assignment]
        dialog = window.open_new_job_dialog(seqs)
        assert dialog is not None
        shooter.settle(800)  # as a user: the dialog is on the screen before they add folders
        dialog.destination_edit.setText(str(dests[0]))
        dialog.also.add_button.click()
        shooter.settle(300)
        dialog.also.add_button.click()
        dialog.verify_combo.setCurrentIndex(dialog.verify_combo.findData("full"))
        shots.wait_until(lambda: dialog.check.pending() == 0)
        shooter.settle(2000)
        shooter.shoot("new_job_destinations", dialog)
        # The refusal as the user sees it: the backup typed as the working folder again.
        edit = dialog.also.edits()[1]
        edit.setText(str(dests[0]) + "/")
        shooter.shoot("new_job_destinations_refused", dialog)
        edit.setText(str(dests[2]))
        dialog.bwlimit_edit.setText("4M")
        dialog.ok_button.click()
        shots.wait_until(lambda: window.model.rowCount() == 9)
        records = window.model.records()
        shots.wait_until(lambda: all(window.model.info(r).done >= 3 for r in records if r.state is JobState.RUNNING)
                         and any(r.state is JobState.RUNNING for r in records))
        window.select_jobs([records[1].job_id])
        window.show_details()
        shooter.settle(1200)
        shooter.shoot("table_destinations", window)
    return 0


if __name__ == "__main__":
    sys.exit(main())
