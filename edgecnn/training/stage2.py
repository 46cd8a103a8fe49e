"""Stage 2: the unified model, fine-tuned by progressive unfreezing.

Each step of the schedule trains some layer groups and freezes the rest. The
default schedule trains the new head alone, then unfreezes the transferred layers
one group at a time from the last to the first, then fine-tunes everything.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from edgecnn.nets.stats import count_parameters
from edgecnn.training import loop
from edgecnn.training.augment import augment_batch
from edgecnn.training.config import UnfreezeStep, stage2_schedule
from edgecnn.training.context import TrainingContext

log = logging.getLogger(__name__)

PHASE = "stage2"


def set_trainable(model: nn.Module, trainable_groups: list[str]) -> int:
    """Freeze every parameter, then unfreeze the named layer groups; return the trainable parameter count."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    groups = model.layer_groups()
    for name in trainable_groups:
        for module in groups[name]:
            for parameter in module.parameters():
                parameter.requires_grad_(True)
    return count_parameters(model, trainable_only=True)


def freeze_batch_norm_statistics(model: nn.Module) -> None:
    """Put batch-norm layers whose parameters are all frozen in eval mode, so their running statistics stay fixed.

    Without this, a frozen branch would still move its running mean and variance
    towards the statistics of the current step's batches.
    """
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            if not any(parameter.requires_grad for parameter in module.parameters()):
                module.eval()


def make_optimizer(step: UnfreezeStep, model: nn.Module) -> torch.optim.Optimizer:
    parameters = [p for p in model.parameters() if p.requires_grad]
    if step.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=step.learning_rate, eps=1e-7, weight_decay=step.weight_decay)
    if step.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=step.learning_rate, momentum=step.momentum,
                               nesterov=step.nesterov, weight_decay=step.weight_decay)
    return torch.optim.NAdam(parameters, lr=step.learning_rate, eps=1e-7, weight_decay=step.weight_decay)


def run_stage2(ctx: TrainingContext, model: nn.Module, resume: dict | None) -> nn.Module:
    """Run every step of the method's stage-2 schedule on model and return it."""
    schedule = stage2_schedule(ctx.config)
    first_step = resume["step_index"] if resume is not None else 0
    for step_index in range(first_step, len(schedule)):
        step_resume = resume if resume is not None and step_index == resume["step_index"] else None
        _run_step(ctx, model, step_index, schedule[step_index], step_resume)
    return model


def _run_step(ctx: TrainingContext, model: nn.Module, step_index: int, step: UnfreezeStep,
              resume: dict | None) -> None:
    trainable = set_trainable(model, step.trainable)
    optimizer = make_optimizer(step, model)
    tracker = loop.BestTracker()
    first_epoch = 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        tracker = loop.BestTracker.from_state_dict(resume["tracker"])
        first_epoch = step.epochs + 1 if resume["step_finished"] else resume["epoch"] + 1
        log.info("stage 2: resuming step '%s' after epoch %d", step.name, resume["epoch"])
    if first_epoch <= step.epochs:  # a step that ended just before the stop has no epoch left to announce
        log.info("stage 2 step '%s': training %s (%d trainable parameters), %s, learning rate %g, %d epoch(s)%s",
                 step.name, ", ".join(step.trainable), trainable, step.optimizer, step.learning_rate, step.epochs,
                 f" max, patience {step.patience_epochs}" if step.patience_epochs else "")

    for epoch in range(first_epoch, step.epochs + 1):
        timer = loop.Timer()
        train_loss, train_accuracy = _train_one_epoch(ctx, model, optimizer, step_index, step, epoch)
        val_loss, val_accuracy = loop.evaluate(model, ctx.validation, ctx.pipeline)
        tracker.update(val_accuracy, epoch, model)
        record = {"stage": 2, "step": step.name, "epoch": epoch, "train_loss": train_loss,
                  "train_accuracy": train_accuracy, "val_loss": val_loss, "val_accuracy": val_accuracy,
                  "learning_rate": optimizer.param_groups[0]["lr"], "trainable_params": trainable,
                  "epoch_seconds": timer.seconds()}
        stop = step.patience_epochs is not None and tracker.epochs_without_improvement >= step.patience_epochs
        ctx.finish_epoch(record, PHASE, step_index, epoch, model, optimizer,
                         {"tracker": tracker.state_dict(), "step_finished": stop or epoch == step.epochs})
        log.info("stage 2 %s epoch %d/%d: loss %.4f, val acc %.2f%%, %.1f s", step.name, epoch, step.epochs,
                 train_loss, 100 * val_accuracy, record["epoch_seconds"])
        if stop:
            log.info("stage 2 %s: no improvement for %d epochs, stopping", step.name, step.patience_epochs)
            break

    if step.patience_epochs is not None:
        model.load_state_dict(tracker.best_state)
        log.info("stage 2 %s: restored epoch %d (val acc %.2f%%)", step.name, tracker.best_epoch,
                 100 * tracker.best_accuracy)


def _train_one_epoch(ctx: TrainingContext, model: nn.Module, optimizer, step_index: int, step: UnfreezeStep,
                     epoch: int) -> tuple[float, float]:
    config = ctx.config.stage2
    batch_size = config.batch_size
    seed = loop.epoch_seed(ctx.config.seed, 2, step_index, epoch)
    torch.manual_seed(seed)  # dropout
    shuffle = torch.Generator().manual_seed(seed)
    augment_generator = torch.Generator().manual_seed(seed + 1)
    model.train()
    freeze_batch_norm_statistics(model)
    total_loss, correct, seen = 0.0, 0, 0
    count = len(ctx.train)
    batches_per_epoch = -(-count // batch_size)
    ctx.progress.epoch_started(f"stage 2 {step.name} epoch {epoch}", batches_per_epoch)
    for batch_number, index in enumerate(loop.batches(count, batch_size, shuffle)):
        if step.lr_schedule != "constant":
            position = (epoch - 1) * batches_per_epoch + batch_number
            loop.set_learning_rate(optimizer, loop.learning_rate_at(
                step.lr_schedule, step.learning_rate, position, step.epochs * batches_per_epoch,
                step.warmup_fraction))
        if config.augment:
            unit_images = augment_batch(ctx.pipeline.to_unit_range(ctx.train.images[index]), ctx.config.augment,
                                        augment_generator)
            inputs = ctx.pipeline.normalize(unit_images)
        else:
            inputs = ctx.pipeline(ctx.train.images[index])
        labels = ctx.train.labels[index]
        logits = model(inputs)
        loss = nn.functional.cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(labels)
        correct += (logits.argmax(1) == labels).sum().item()
        seen += len(labels)
        ctx.progress.batch_finished()
    ctx.progress.epoch_finished()
    return total_loss / seen, correct / seen
