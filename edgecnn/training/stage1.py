"""Stage 1: two identical branches trained at once, one on original and one on augmented images.

Each branch has its own output and loss; the optimized loss is their sum. Validation
feeds both branches the original images, and each branch keeps the weights of its
own best validation epoch. The single-branch method of an ablation trains the
augmented branch alone with the same code.
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

    def named_branches(self) -> list[tuple[str, nn.Module]]:
        """Return (input kind, branch) pairs; the input kind names the images the branch trains on."""
        return [("original", self.branch_original), ("augmented", self.branch_augmented)]

    def forward(self, original: torch.Tensor, augmented: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.branch_original(original), self.branch_augmented(augmented)


class AugmentedBranchModel(nn.Module):
    """The augmented branch of DualBranchModel alone, with the same parameter names."""

    def __init__(self, branch_augmented: nn.Module):
        super().__init__()
        self.branch_augmented = branch_augmented

    def named_branches(self) -> list[tuple[str, nn.Module]]:
        return [("augmented", self.branch_augmented)]

    def forward(self, augmented: torch.Tensor) -> torch.Tensor:
        return self.branch_augmented(augmented)


def run_stage1(ctx: TrainingContext, model: DualBranchModel | AugmentedBranchModel,
               resume: dict | None) -> DualBranchModel | AugmentedBranchModel:
    """Train the model's branches, then load each branch's best weights into model and return it."""
    config = ctx.config.stage1
    optimizer = _make_optimizer(config, model)
    names, branches = zip(*model.named_branches())
    trackers = [loop.BestTracker(config.min_delta) for _ in branches]
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

        record = {"stage": 1, "step": "dual" if len(branches) == 2 else "single", "epoch": epoch,
                  "train_loss": train_loss,
                  **{f"train_accuracy_{name}": accuracy for name, accuracy in zip(names, train_accuracy)},
                  **{f"val_accuracy_{name}": accuracy for name, accuracy in zip(names, val_accuracy)},
                  "learning_rate": optimizer.param_groups[0]["lr"], "epoch_seconds": timer.seconds()}
        stop = epoch >= config.min_epochs and all(t.epochs_without_improvement >= config.patience_epochs
                                                  for t in trackers)
        ctx.finish_epoch(record, PHASE, 0, epoch, model, optimizer,
                         {"trackers": [t.state_dict() for t in trackers],
                          "stage_finished": stop or epoch == config.max_epochs})
        accuracies = ", ".join(f"{name} {100 * accuracy:.2f}%" for name, accuracy in zip(names, val_accuracy))
        log.info("stage 1 epoch %d/%d: loss %.4f, val acc %s, %.1f s", epoch, config.max_epochs, train_loss,
                 accuracies, record["epoch_seconds"])
        if stop:
            log.info("stage 1: no branch improved by %.3f for %d epochs, stopping",
                     config.min_delta, config.patience_epochs)
            break

    for tracker, branch, name in zip(trackers, branches, names):
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


def _train_one_epoch(ctx: TrainingContext, model: DualBranchModel | AugmentedBranchModel, optimizer, epoch: int):
    config = ctx.config.stage1
    seed = loop.epoch_seed(ctx.config.seed, 1, epoch)
    torch.manual_seed(seed)
    shuffle = torch.Generator().manual_seed(seed)
    augment_generator = torch.Generator().manual_seed(seed + 1)
    model.train()
    names, branches = zip(*model.named_branches())
    total_loss, correct, seen = 0.0, [0] * len(branches), 0
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
        inputs = {"original": ctx.pipeline.normalize(unit_images),
                  "augmented": ctx.pipeline.normalize(augment_batch(unit_images, ctx.config.augment,
                                                                    augment_generator))}

        logits = [branch(inputs[name]) for name, branch in zip(names, branches)]
        loss = sum(nn.functional.cross_entropy(branch_logits, labels, label_smoothing=config.label_smoothing)
                   for branch_logits in logits)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        total_loss += loss.item() * len(labels)
        for index, branch_logits in enumerate(logits):
            correct[index] += (branch_logits.argmax(1) == labels).sum().item()
        seen += len(labels)
        ctx.progress.batch_finished()
    ctx.progress.epoch_finished()
    return total_loss / seen, [count / seen for count in correct]
