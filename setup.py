"""ppnorm: normalization layers, experiments and a ResNet/DenseNet zoo for PaddlePaddle."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
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
        "paddlepaddle>=3.0",
        "numpy",
        "visualdl>=2.5",
        "pyyaml",
        "scikit-learn",
        "matplotlib",
    ],
    extras_require={
        "test": ["pytest", "pytest-timeout", "hypothesis", "nbclient", "nbformat", "ipykernel"],
        "zh": ["noto-cjk-sans-otc"],  # a CJK font, so experiment charts with lang: zh draw Chinese
    },
    license="Apache-2.0",
)
