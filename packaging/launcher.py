"""Entry point of the frozen app: the same `sleepscope` command (no argument opens the workstation)."""

import multiprocessing
import sys

from sleepscope.cli import main

if __name__ == "__main__":
    # Frozen apps need this before anything starts a child process (DataLoader workers, fine-tuning).
    multiprocessing.freeze_support()
    sys.exit(main())
