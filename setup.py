"""ppnorm: normalization layers, experiments and a ResNet/DenseNet zoo for PaddlePaddle."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
# Paddle is not a hard requirement, as in Paddle's own suites (PaddleClas, PaddleOCR): a `paddlepaddle>=3.0`
# there would make pip install the CPU wheel over an existing paddlepaddle-gpu. The CPU wheel is the `cpu`
# extra (`pip install -e ".[cpu]"`); GPU users install paddlepaddle-gpu first, then `pip install -e .`.
PADDLE_CPU = "paddlepaddle>=3.0"
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "ppnorm" / "__init__.py").read_text()).group(1)

setup(
    name="ppnorm",
    version=VERSION,
    description="BatchNorm / LayerNorm / InstanceNorm / GroupNorm / Dropout experiments "
    "and ResNet / DenseNet models with a switchable norm layer, for PaddlePaddle",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["ppnorm", "ppnorm.*"]),
    python_requires=">=3.9",
    install_requires=[
        "numpy",
        "visualdl>=2.5",
        "pyyaml",
        "scikit-learn",
        "matplotlib",
    ],
    extras_require={
        "cpu": [PADDLE_CPU],
        "test": ["pytest", "pytest-timeout", "hypothesis", "nbclient", "nbformat", "ipykernel"],
        "onnx": ["paddle2onnx==2.1.0", "onnxruntime"],  # tools/export.py --format onnx
        "zh": ["noto-cjk-sans-otc"],  # a CJK font, so experiment charts with lang: zh draw Chinese
    },
    license="Apache-2.0",
)
