"""Our stager as a Scorer: a loaded SleepStager and `sleepscope.model.infer.predict`."""

from __future__ import annotations

from pathlib import Path

from sleepscope.model.infer import Prediction
from sleepscope.tasks import CancelToken, Progress


class StagerScorer:
    name = "SleepScope"

    def __init__(self, model, card=None, device: str | None = None) -> None:
        self.model = model
        self.card = card
        self.device = device

    @classmethod
    def load(cls, path: str | Path | None = None, device: str | None = None) -> "StagerScorer":
        """The model at `path`, or the shipped one."""
        from sleepscope.model.checkpoint import default_model_path, load_model

        model, card = load_model(path or default_model_path())
        return cls(model, card, device)

    @property
    def version(self) -> str:
        from sleepscope.model.checkpoint import weights_version

        return weights_version(self.model)

    def score(self, recording, progress: Progress | None = None,
              cancel: CancelToken | None = None) -> Prediction:
        from sleepscope.model.infer import predict

        return predict(recording, self.model, device=self.device, progress=progress, cancel=cancel)
