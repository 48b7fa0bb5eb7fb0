"""python tools/benchmark.py [--models resnet18 resnet50 densenet121] [--norms bn gn] [--modes train eval infer]"""
import os
import sys

OMP_NUM_THREADS = os.environ.get("OMP_NUM_THREADS")  # read before importing paddle, which sets it to 1 when unset
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppnorm.benchmark.cli import benchmark_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(benchmark_main(omp_num_threads=OMP_NUM_THREADS))
