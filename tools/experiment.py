"""python tools/experiment.py -c configs/experiments/<name>.yaml [-o quick=true params.key=value] | --list"""
import os
import sys

OMP_NUM_THREADS = os.environ.get("OMP_NUM_THREADS")  # read before importing paddle, which sets it to 1 when unset
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppnorm.experiments.cli import experiment_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(experiment_main(omp_num_threads=OMP_NUM_THREADS))
