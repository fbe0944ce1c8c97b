"""Recordings and hypnograms: EDF/EDF+/BDF through MNE, Sleep-EDF pairing and trimming."""

from sleepscope.io.recording import (
    EPOCH_SAMPLES,
    EPOCH_SECONDS,
    FLAT_STD_UV,
    TARGET_FS,
    ChannelInfo,
    Recording,
    RecordingInfo,
    SignalQuality,
    file_fingerprint,
    open_recording,
    read_info,
    resample_to_target,
    zscore_epochs,
)

__all__ = [
    "EPOCH_SAMPLES",
    "EPOCH_SECONDS",
    "FLAT_STD_UV",
    "TARGET_FS",
    "ChannelInfo",
    "Recording",
    "RecordingInfo",
    "SignalQuality",
    "file_fingerprint",
    "open_recording",
    "read_info",
    "resample_to_target",
    "zscore_epochs",
]
