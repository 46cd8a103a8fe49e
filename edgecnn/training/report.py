"""Loss and accuracy curves of both stages as one PNG."""

from __future__ import annotations

from pathlib import Path

from edgecnn.fileio import atomic_path


def plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    stage1 = [r for r in history if r["stage"] == 1]
    stage2 = [r for r in history if r["stage"] == 2]
    figure, axes = plt.subplots(2, 2, figsize=(11, 7))

    x1 = range(1, len(stage1) + 1)
    axes[0, 0].plot(x1, [r["train_loss"] for r in stage1], label="train (sum over branches)")
    axes[0, 0].set_title("Stage 1 loss")
    for key, label in (("val_accuracy_original", "branch 1 (original)"),
                       ("val_accuracy_augmented", "branch 2 (augmented)")):
        if stage1 and key in stage1[0]:  # the single-branch method has no original branch
            axes[0, 1].plot(x1, [100 * r[key] for r in stage1], label=label)
    axes[0, 1].set_title("Stage 1 validation accuracy (%)")

    x2 = range(1, len(stage2) + 1)
    axes[1, 0].plot(x2, [r["train_loss"] for r in stage2], label="train")
    axes[1, 0].plot(x2, [r["val_loss"] for r in stage2], label="validation")
    axes[1, 0].set_title("Stage 2 loss")
    axes[1, 1].plot(x2, [100 * r["train_accuracy"] for r in stage2], label="train")
    axes[1, 1].plot(x2, [100 * r["val_accuracy"] for r in stage2], label="validation")
    axes[1, 1].set_title("Stage 2 accuracy (%)")
    # Mark where each unfreezing step begins.
    for position, record in enumerate(stage2, start=1):
        if record["epoch"] == 1 and position > 1:
            for axis in axes[1]:
                axis.axvline(position - 0.5, color="grey", linewidth=0.6, linestyle=":")

    if not stage2:
        for axis in axes[1]:
            axis.clear()
            axis.set_axis_off()
            axis.text(0.5, 0.5, "no stage 2 (single-branch method)", ha="center", va="center",
                      transform=axis.transAxes)
    for axis in axes.flat:
        # Markers keep a run of a single epoch visible, which a line alone would not draw.
        for line in axis.lines:
            line.set_marker(".")
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if axis.lines:
            # Whole epochs only, with half an epoch of margin: left alone, matplotlib labels
            # the axis of a one-epoch stage from 0.96 to 1.04.
            epochs = max(len(line.get_xdata()) for line in axis.lines)
            axis.set_xlim(0.5, epochs + 0.5)
            axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            axis.legend(fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=90)
    plt.close(figure)
