"""Screenshot: the New job dialog converting a plate to the Plate ingest preset's three renditions.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python tools/shot_renditions.py docs/shots
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import screenshot as shots

from vfxcopy.core.jobs import Operation
from vfxcopy.core.samples import make_exr_sequence
from vfxcopy.core.seqfind import scan


def main() -> int:
    with shots.window_session(Path(sys.argv[1])) as (window, root, shooter):
        make_exr_sequence(root / "show" / "plates" / "sh040", head="sh040_bg_plate_v001.", count=24, width=320, height=180)
        seqs = scan([root / "show" / "plates"], stat=True, recursive=True)
        dialog = window.open_new_job_dialog(seqs)
        shooter.settle(800)
        dialog.destination_edit.setText(str(root / "show" / "ingest" / "sh040"))
        dialog.operation_combo.setCurrentIndex(dialog.operation_combo.findData(Operation.CONVERT))
        combo = dialog.convert_group.preset_combo
        combo.setCurrentIndex(combo.findData("Plate ingest: DWAA master + JPEG proxies + H.264 review"))
        dialog.convert_group.select_output(1)
        shots.wait_until(lambda: dialog.check.pending() == 0)
        shooter.settle(1500)
        shooter.shoot("new_job_renditions", dialog)
        dialog.reject()
    return 0


if __name__ == "__main__":
    sys.exit(main())
