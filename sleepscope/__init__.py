"""SleepScope: a sleep-scoring workstation with a CLIP-pre-trained two-branch U2-Net."""

__version__ = "0.1.0"
