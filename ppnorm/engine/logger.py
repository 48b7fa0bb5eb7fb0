"""Console lines in the PaddleClas shape, and VisualDL scalars and norm-layer histograms (rank 0 only)."""
import datetime
import os
import sys

from ..models.init import is_norm


def format_eta(seconds):
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))


class Logger:
    """Prints on rank 0; writes VisualDL logs under ``<output_dir>/vdl`` when enabled."""

    def __init__(self, output_dir, rank=0, use_visualdl=True, stream=None):
        self.rank = rank
        self.stream = stream or sys.stdout
        self.vdl = None
        self.logdir = os.path.join(output_dir, "vdl")
        if rank == 0 and use_visualdl:
            from visualdl import LogWriter  # imported only when logging is on

            self.vdl = LogWriter(logdir=self.logdir)

    def info(self, message):
        if self.rank == 0:
            print(message, file=self.stream, flush=True)

    def scalars(self, values, step):
        if self.vdl is not None:
            for tag, value in values.items():
                self.vdl.add_scalar(tag=tag, value=float(value), step=step)

    def norm_histograms(self, model, step):
        """Scale, shift, running mean and running variance of every norm layer, as histograms."""
        if self.vdl is None:
            return
        names = {"weight": "scale", "scale": "scale", "bias": "shift", "_mean": "running_mean",
                 "_variance": "running_var"}
        for layer_name, layer in model.named_sublayers():
            if not is_norm(layer):
                continue
            for name, param in layer.named_parameters(include_sublayers=False):
                if name in names:
                    self.vdl.add_histogram(tag=f"norm/{layer_name}/{names[name]}", values=param.numpy().ravel(),
                                           step=step, buckets=20)

    def close(self):
        if self.vdl is not None:
            self.vdl.close()
