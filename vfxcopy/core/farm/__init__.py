"""Render-farm jobs: frame-chunk tasks, splitting and merging, OpenJD / Deadline / SLURM backends."""
