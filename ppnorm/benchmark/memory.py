"""Peak memory of one benchmark case, measured in a fresh process so earlier cases cannot hide it."""
import multiprocessing

from .timing import resident_mib


def _measure(case):
    import paddle

    from ..engine.threads import use_cpu_threads
    from .cases import build_candidate, make_batch, make_run, temporary_dir

    use_cpu_threads(case["threads"])
    paddle.seed(0)
    baseline = resident_mib()
    if baseline is None:
        return None
    model = build_candidate(case["model"], case["implementation"], case["norm"], case["num_classes"])
    images, labels = make_batch(case["batch"], case["image_size"], case["num_classes"])
    with temporary_dir() as work_dir:
        run = make_run(model, case["mode"], images, labels, work_dir, case["threads"], case.get("precision", "fp32"))
        for _ in range(max(2, case["warmup"])):
            run()
    return resident_mib("VmHWM") - baseline


def peak_memory_mib(**case):
    """Peak resident memory (MiB) of a fresh process above its state right after importing Paddle:
    the model, its batch, and ``warmup`` runs of the case (gradients and optimizer state for ``train``,
    the exported predictor for ``infer``). None where /proc is not available."""
    pool = multiprocessing.get_context("spawn").Pool(1)
    try:
        return pool.apply(_measure, (case,))
    finally:
        pool.close()  # let the worker exit on its own (terminate() makes Paddle print a fatal-signal report)
        pool.join()
