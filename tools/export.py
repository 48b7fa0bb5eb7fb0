"""python tools/export.py -c CONFIG.yaml -o Global.pretrained_model=output/<run>/best_model"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppnorm.deploy.cli import export_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(export_main())
