"""What every lesson figure shares: the style, labels and saving of :mod:`adagrad_ref.teaching.plots`'s
figures (their settings, restated here so that no lesson reaches into ``plots``' private names)."""

from __future__ import annotations

#: matplotlib settings every lesson figure is drawn with (those of ``plots``; a fixed SVG salt).
STYLE = {"font.size": 11, "axes.titlesize": 12, "legend.fontsize": 10, "svg.hashsalt": "adagrad_ref"}


def dress(ax, title: str, xlabel: str, ylabel: str, **legend: object) -> None:
    """Title, axis labels, a light grid and the legend."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(**legend)


def save(fig, path: str | None):
    """Lay the figure out, write it to ``path`` if given (110 dpi), return it."""
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
    return fig
