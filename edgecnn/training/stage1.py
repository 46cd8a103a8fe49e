"""Stage 1: two identical branches trained at once, one on original and one on augmented images.

Each branch has its own output and loss; the optimized loss is their sum. Validation
feeds both branches the original images, and each branch keeps the weights of its
own best validation epoch.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from edgecnn.training import loop
from edgecnn.training.augment import augment_batch
from edgecnn.training.context import TrainingContext

log = logging.getLogger(__name__)

PHASE = "stage1"


class DualBranchModel(nn.Module):
    """The dual-input-output model: inputs (original, augmented), outputs (logits, logits)."""

    def __init__(self, branch_original: nn.Module, branch_augmented: nn.Module):
        super().__init__()
        self.branch_original = branch_original
        self.branch_augmented = branch_augmented

    def forward(self, original: torch.Tensor, augmented: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.branch_original(original), self.branch_augmented(augmented)


def run_stage1(ctx: TrainingContext, model: DualBranchModel, resume: dict | None) -> DualBranchModel:
    """Train both branches, then load each branch's best weights into model and return it."""
    config = ctx.config.stage1
    optimizer = _make_optimizer(config, model)
    trackers = [loop.BestTracker(config.min_delta), loop.BestTracker(config.min_delta)]
    branches = [model.branch_original, model.branch_augmented]
    first_epoch = 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        trackers = [loop.BestTracker.from_state_dict(state) for state in resume["trackers"]]
        first_epoch = config.max_epochs + 1 if resume["stage_finished"] else resume["epoch"] + 1
        log.info("stage 1: resuming after epoch %d", resume["epoch"])

    for epoch in range(first_epoch, config.max_epochs + 1):
        timer = loop.Timer()
        train_loss, train_accuracy = _train_one_epoch(ctx, model, optimizer, epoch)
        val_accuracy = [loop.evaluate(branch, ctx.validation, ctx.pipeline)[1] for branch in branches]
        for tracker, branch, accuracy in zip(trackers, branches, val_accuracy):
            tracker.update(accuracy, epoch, branch)

        record = {"stage": 1, "step": "dual", "epoch": epoch, "train_loss": train_loss,
                  "train_accuracy_original": train_accuracy[0], "train_accuracy_augmented": train_accuracy[1],
                  "val_accuracy_original": val_accuracy[0], "val_accuracy_augmented": val_accuracy[1],
                  "learning_rate": optimizer.param_groups[0]["lr"], "epoch_seconds": timer.seconds()}
        stop = epoch >= config.min_epochs and all(t.epochs_without_improvement >= config.patience_epochs
                                                  for t in trackers)
        ctx.finish_epoch(record, PHASE, 0, epoch, model, optimizer,
                         {"trackers": [t.state_dict() for t in trackers],
                          "stage_finished": stop or epoch == config.max_epochs})
        log.info("stage 1 epoch %d/%d: loss %.4f, val acc original %.2f%%, augmented %.2f%%, %.1f s",
                 epoch, config.max_epochs, train_loss, 100 * val_accuracy[0], 100 * val_accuracy[1],
                 record["epoch_seconds"])
        if stop:
            log.info("stage 1: neither branch improved by %.3f for %d epochs, stopping",
                     config.min_delta, config.patience_epochs)
            break

    for tracker, branch, name in zip(trackers, branches, ("original", "augmented")):
        branch.load_state_dict(tracker.best_state)
        log.info("stage 1: %s branch keeps epoch %d (val acc %.2f%%)", name, tracker.best_epoch,
                 100 * tracker.best_accuracy)
    return model


def _make_optimizer(config, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.learning_rate, eps=config.epsilon,
                                 weight_decay=config.weight_decay)
    return torch.optim.NAdam(model.parameters(), lr=config.learning_rate, eps=config.epsilon,
                             weight_decay=config.weight_decay)


def _train_one_epoch(ctx: TrainingContext, model: DualBranchModel, optimizer, epoch: int):
    config = ctx.config.stage1
    seed = loop.epoch_seed(ctx.config.seed, 1, epoch)
    torch.manual_seed(seed)
    shuffle = torch.Generator().manual_seed(seed)
    augment_generator = torch.Generator().manual_seed(seed + 1)
    model.train()
    total_loss, correct, seen = 0.0, [0, 0], 0
    count = len(ctx.train)
    batches_per_epoch = -(-count // config.batch_size)
    ctx.progress.epoch_started(f"stage 1 epoch {epoch}", batches_per_epoch)
    for batch_number, index in enumerate(loop.batches(count, config.batch_size, shuffle)):
        if config.lr_schedule != "constant":
            step = (epoch - 1) * batches_per_epoch + batch_number
            loop.set_learning_rate(optimizer, loop.learning_rate_at(
                config.lr_schedule, config.learning_rate, step, config.max_epochs * batches_per_epoch,
                config.warmup_fraction))
        unit_images = ctx.pipeline.to_unit_range(ctx.train.images[index])
        labels = ctx.train.labels[index]
        original = ctx.pipeline.normalize(unit_images)
        augmented = ctx.pipeline.normalize(augment_batch(unit_images, ctx.config.augment, augment_generator))

        logits_original, logits_augmented = model(original, augmented)
        smoothing = config.label_smoothing
        loss = nn.functional.cross_entropy(logits_original, labels, label_smoothing=smoothing) + \
            nn.functional.cross_entropy(logits_augmented, labels, label_smoothing=smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        total_loss += loss.item() * len(labels)
        correct[0] += (logits_original.argmax(1) == labels).sum().item()
        correct[1] += (logits_augmented.argmax(1) == labels).sum().item()
        seen += len(labels)
        ctx.progress.batch_finished()
    ctx.progress.epoch_finished()
    return total_loss / seen, (correct[0] / seen, correct[1] / seen)
