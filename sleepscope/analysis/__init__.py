"""Signal analysis a technician reads beside the model: the night's EEG spectrogram, band powers, and
YASA's spindle, slow-wave and rapid-eye-movement detectors (optional)."""
