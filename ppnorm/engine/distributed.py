"""Device set-up and the few collective operations the engine needs (data-parallel training)."""
import numpy as np
import paddle
import paddle.distributed as dist

from ..nn import is_batch_norm, running_stats
from .config import ConfigError
from .threads import use_cpu_threads


def setup_device(device, cpu_threads=None):
    """Select the device, set the CPU threads, join the process group; returns ``(rank, world_size, note)``.

    ``note`` is a line for the log saying how many CPU threads Paddle uses (see :mod:`.threads`).
    """
    if device == "gpu" and not paddle.is_compiled_with_cuda():
        raise ConfigError("Global.device=gpu but this PaddlePaddle build has no CUDA support; install "
                          "paddlepaddle-gpu, or set Global.device=cpu")
    world_size = dist.get_world_size()
    if device == "gpu":
        paddle.set_device(f"gpu:{dist.ParallelEnv().device_id}" if world_size > 1 else "gpu")
    else:
        paddle.set_device("cpu")
    _, note = use_cpu_threads(cpu_threads)
    if world_size > 1:
        dist.init_parallel_env()
    return dist.get_rank(), world_size, note


def check_norm_supported(model, device):
    """SyncBatchNorm has no CPU kernel: say so before the first forward pass fails deep inside Paddle."""
    if device == "cpu" and any(isinstance(layer, paddle.nn.SyncBatchNorm) for layer in model.sublayers()):
        raise ConfigError("SyncBatchNorm (Arch.norm=sync_bn or Global.sync_bn=true) has no CPU kernel in Paddle; "
                          "on CPU use Arch.norm=bn (each process keeps its own statistics) or train on GPUs")


def all_gather_numpy(array, world_size):
    """Concatenate equally-sized numpy arrays from every rank (rank order)."""
    if world_size == 1:
        return array
    gathered = []
    dist.all_gather(gathered, paddle.to_tensor(array))
    return np.concatenate([t.numpy() for t in gathered])


def average_norm_statistics(model, world_size):
    """Average BatchNorm running mean/variance over ranks, so every rank evaluates and saves the same model.

    With plain BatchNorm under DataParallel each rank's running statistics come from its own data.
    """
    if world_size == 1:
        return
    for layer in model.sublayers():
        if is_batch_norm(layer):
            for buffer in running_stats(layer):
                dist.all_reduce(buffer)
                buffer.set_value(buffer / world_size)
