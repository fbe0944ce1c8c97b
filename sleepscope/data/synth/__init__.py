"""Building blocks of the synthetic PSG generator (see `sleepscope.data.synthetic`).

- `subjects`: per-subject and per-night parameters drawn from the seed;
- `physiology`: the stage-specific waveforms and artefacts, mixed over a night;
- `edf_writer`: Sleep-EDF-style PSG and hypnogram files.
"""
