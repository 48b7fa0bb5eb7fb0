"""python tools/experiment.py -c configs/experiments/<name>.yaml [-o quick=true params.key=value] | --list"""
import os
import sys

# Taken out before paddle is imported: paddle would set it to 1 when unset and print a data-parallel warning
# when it is above 1; the tool applies this thread count itself (Global.cpu_threads / --cpu_threads win).
OMP_NUM_THREADS = os.environ.pop("OMP_NUM_THREADS", None)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppnorm.experiments.cli import experiment_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(experiment_main(omp_num_threads=OMP_NUM_THREADS))
