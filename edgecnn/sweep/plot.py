"""Validation accuracy against parameter count for the finished trials, with the Pareto front marked."""

from __future__ import annotations

from pathlib import Path

from edgecnn.fileio import atomic_path

PLOT_FILE = "pareto.png"


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: fewer or equal parameters and higher or equal accuracy.

    A point is (params, accuracy). Duplicates of a front point are on the front too.
    """
    front = []
    for index, (params, accuracy) in enumerate(points):
        dominated = any(other_params <= params and other_accuracy >= accuracy
                        and (other_params < params or other_accuracy > accuracy)
                        for other_params, other_accuracy in points)
        if not dominated:
            front.append(index)
    return front


def plot_pareto(rows: list[dict], best: dict | None, path: Path) -> bool:
    """Draw the finished rows' val_accuracy against params into path; return False when none finished."""
    finished = [row for row in rows if row["status"] == "finished" and row.get("params") is not None
                and row.get("val_accuracy") is not None]
    if not finished:
        return False

    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    points = [(row["params"], row["val_accuracy"]) for row in finished]
    front = sorted(pareto_front(points), key=lambda i: points[i])
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.scatter([p for p, _ in points], [a for _, a in points], color="tab:blue", alpha=0.6, label="trial")
    axes.step([points[i][0] for i in front], [points[i][1] for i in front], where="post", color="tab:orange",
              label="Pareto front")
    axes.scatter([points[i][0] for i in front], [points[i][1] for i in front], color="tab:orange", zorder=3)
    if best is not None and best in finished:
        axes.scatter([best["params"]], [best["val_accuracy"]], marker="*", s=220, color="tab:red", zorder=4,
                     label=f"best: {best['trial_id']}")
    axes.set_xlabel("parameters")
    axes.set_ylabel("validation accuracy (%)")
    axes.set_title(f"{len(finished)} finished trial(s)")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120, format="png")
    plt.close(figure)
    return True
