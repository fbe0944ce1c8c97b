"""The shipped model's N2/N3 calls on randomised family-A labs against what the lab draw did to the slow waves.

    .venv/bin/python reports/slow-wave-age-synthetic/n3_by_slow_waves.py [--cache CACHE] > n3-by-slow-waves.log

Per night of bench_shift's `A random` row (young and older night sets, generation seeds 0-2): accuracy, the N2/N3
bias (N2 read N3 minus N3 read N2), the drawn age's slow-wave factor (`slow_age_factor`: slow waves and
K-complexes x0.45-x1.15), the EEG gain, and the share of N3 epochs whose recorded EEG meets the AASM amplitude rule
(at least 20 % of the epoch in 0.5-2 Hz waves of 75 µV peak to peak or more; measured on whatever derivation the
lab records, where the manual asks for a frontal one). Then Spearman's rho of the bias against each.
SYNTHETIC nights (real hypnograms); CACHE: bench_shift's --cache folder, filled when missing.
"""
import numpy as np
from common import confusion, shipped


def aasm_slow_share(x: np.ndarray, fs: float) -> float:
    """Share of the epoch in 0.5-2 Hz waves (zero crossing to the next but one) of >= 75 µV peak to peak."""
    from scipy.signal import butter, sosfiltfilt

    y = sosfiltfilt(butter(2, (0.5, 2.0), "bandpass", fs=fs, output="sos"), x.astype(np.float64))
    z = np.flatnonzero(np.diff(np.signbit(y)))
    covered = 0
    for a, b in zip(z[:-2], z[2:]):
        if 0.5 <= (b - a) / fs <= 2.0 and y[a:b + 1].max() - y[a:b + 1].min() >= 75.0:
            covered += b - a
    return min(1.0, covered / len(x))


def main() -> None:
    args, model = shipped("SYNTHETIC nights (real hypnograms), family A recorded by randomised labs; "
                          "the shipped model.")
    from scipy.stats import spearmanr

    import bench_shift as bs
    from sleepscope.data.synthetic import parse_night_name, real_hypnogram, synth_night
    from sleepscope.io.hypnogram import trim_wake
    from sleepscope.model.infer import predict
    print("set   seed night     acc    N2->N3 N3->N2 bias/(N2+N3)  slow x  EEG gain  N3 epochs meeting 75 uV  "
          "unsure among N2/N3 errors  EEG")
    rows, flagged = [], []
    for night_set in ("young", "older"):
        for seed in (0, 1, 2):
            for n in bs.NIGHT_SETS[night_set]:
                rec, y = bs.cached_recording(n, "A", True, seed, args.cache)
                p = predict(rec, model)
                ok = (y >= 0) & ~p.artefact
                cm = confusion(y, p.stages, p.artefact)
                labels = real_hypnogram(n)
                labels = np.asarray(labels[trim_wake(labels, 60)])
                subject, night = parse_night_name(n)
                acq = synth_night(labels[:40], subject=subject, night=night, seed=seed, family="A",
                                  randomise=True).acquisition
                eeg = rec.channels[rec.eeg_name]
                per = int(round(30 * rec.fs))
                n3 = np.flatnonzero(y == 3)
                meets = [aasm_slow_share(eeg[i * per:(i + 1) * per], rec.fs) >= 0.2
                         for i in n3 if (i + 1) * per <= len(eeg)]
                bias = (cm[2, 3] - cm[3, 2]) / max(1, cm[2].sum() + cm[3].sum())
                swapped = ok & (((y == 2) & (p.stages == 3)) | ((y == 3) & (p.stages == 2)))
                flagged.append((int(p.unsure[swapped].sum()), int(swapped.sum())))
                gain = acq["eeg_gain_subject"] * acq["eeg_gain_night"]
                rows.append((bias, acq["slow_age_factor"], gain, float(np.mean(meets)) if meets else np.nan))
                print(f"{night_set:<5} {seed}    {n}  {np.trace(cm) / cm.sum():.3f}  {cm[2, 3]:>5}  {cm[3, 2]:>5}  "
                      f"{bias:+.3f}        {acq['slow_age_factor']:.2f}    x{gain:.2f}     "
                      f"{np.mean(meets) if meets else float('nan'):.2f} of {len(meets):>3}              "
                      f"{flagged[-1][0]:>3} of {flagged[-1][1]:>3}                 {rec.eeg_name}", flush=True)
    r = np.array(rows, dtype=float)
    for j, what in ((1, "slow-wave factor"), (2, "EEG gain"), (3, "share of N3 epochs meeting 75 uV")):
        keep = ~np.isnan(r[:, j])
        rho, pv = spearmanr(r[keep, 0], r[keep, j])
        print(f"bias against {what}: Spearman rho {rho:+.2f} (p {pv:.1g}, {keep.sum()} nights)")
    worst = np.argsort(-np.abs(r[:, 0]))[:8]
    f = np.array(flagged)
    print(f"unsure among the N2/N3 errors: {f[:, 0].sum()} of {f[:, 1].sum()} on all 48 nights, "
          f"{f[worst, 0].sum()} of {f[worst, 1].sum()} on the 8 nights of largest |bias|")


if __name__ == "__main__":
    main()
