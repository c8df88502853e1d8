"""What a training run carries from one epoch to the next, apart from the loop that advances it: the optimiser, the
learning-rate schedule, torch's random state, the weights' moving average, the history and the best validation loss
so far. :meth:`TrainingState.saved` is what ``last.pt`` stores beside the weights; :meth:`TrainingState.restore`
puts a stopped run back exactly where it was, so a resumed run ends with the same weights as one never stopped.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from core.classify.settings import TrainConfig

__all__ = ["TrainingState"]


class TrainingState:
    """The state of a run of ``config`` training ``model`` for ``steps_per_epoch`` optimiser steps an epoch.

    Attributes
    ----------
    model : nn.Module
        The weights the optimiser moves.
    average : AveragedModel or None
        Their exponential moving average (``config.ema_decay``), updated after every step.
    optimizer, scheduler
        AdamW and its one-cycle schedule over the whole run.
    history : list of dict
        One record per finished epoch.
    best_loss : float
        The lowest validation loss so far.
    seconds : float
        Training time so far.
    """

    def __init__(self, config: TrainConfig, model: nn.Module, *, steps_per_epoch: int) -> None:
        self.model = model
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch, pct_start=0.15
        )
        self.average = None
        if config.ema_decay:
            self.average = torch.optim.swa_utils.AveragedModel(
                model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(config.ema_decay), use_buffers=True
            )
        self.history: list[dict[str, Any]] = []
        self.best_loss = math.inf
        self.seconds = 0.0

    @property
    def evaluated(self) -> nn.Module:
        """What is validated, saved and shipped: the moving average where there is one, else the weights."""
        return self.average.module if self.average is not None else self.model

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def saved(self) -> dict[str, Any]:
        """Everything but the weights that resuming needs (``last.pt``'s ``training``)."""
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "best_loss": self.best_loss,
            "seconds": self.seconds,
        }
        if self.average is not None:
            state["average"] = self.average.state_dict()
        return state

    def restore(self, payload: dict[str, Any]) -> None:
        """Back to where a checkpoint written with :meth:`saved` (and the weights) left the run."""
        state = payload["training"]
        self.model.load_state_dict(payload["state_dict"])
        if self.average is not None:
            self.average.load_state_dict(state["average"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        self.history, self.best_loss, self.seconds = state["history"], state["best_loss"], state["seconds"]
