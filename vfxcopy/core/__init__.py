"""Qt-free engine: sequences, jobs, copy, convert, verify, journal, watch."""
