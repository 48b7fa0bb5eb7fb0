"""python tools/benchmark.py [--models resnet18 resnet50 densenet121] [--norms bn gn] [--modes train eval infer]"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppnorm.benchmark.cli import benchmark_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(benchmark_main())
