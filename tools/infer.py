"""python tools/infer.py --model_dir output/<run>/inference --input IMAGES... | -c CONFIG.yaml"""
import os
import sys

OMP_NUM_THREADS = os.environ.get("OMP_NUM_THREADS")  # read before importing paddle, which sets it to 1 when unset
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppnorm.deploy.cli import infer_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(infer_main(omp_num_threads=OMP_NUM_THREADS))
