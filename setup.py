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
    # The repository's configs/ ship as package data ppnorm/configs/, so `ppnorm train -c digits/resnet20` works
    # from a wheel too (ppnorm/config_files.py finds them in either place).
    packages=find_packages(include=["ppnorm", "ppnorm.*"]) + ["ppnorm.configs"],
    package_dir={"ppnorm.configs": "configs"},
    package_data={"ppnorm.configs": ["*/*.yaml", "custom/*.py"]},  # custom/my_extensions.yaml imports its .py
    entry_points={"console_scripts": ["ppnorm = ppnorm.__main__:main"]},
    python_requires=">=3.9",
    install_requires=[
        "numpy",
        "visualdl>=2.5",
        "pyyaml",
        "scikit-learn",
        "matplotlib",
        # experiments/stats.py: Student-t quantiles and tail probabilities for every claim's interval and p-value
        # (scikit-learn already pulls scipy in; named here because ppnorm imports it itself)
        "scipy",
    ],
    extras_require={
        "cpu": [PADDLE_CPU],
        # Upper bounds on the test tools' next major releases, whose changes have broken the suite before
        # (pytest 9 refused approx() on nested dicts); raise them after the suite passes on the new major.
        "test": ["pytest>=8,<10", "pytest-timeout>=2.1,<3", "hypothesis>=6,<7", "nbclient>=0.10,<1",
                 "nbformat>=5.9,<6", "ipykernel>=6.20,<8"],
        "onnx": ["paddle2onnx==2.1.0", "onnxruntime"],  # tools/export.py --format onnx
        "zh": ["noto-cjk-sans-otc"],  # a CJK font, so experiment charts with lang: zh draw Chinese
        # the documentation site (mkdocs.yml): mkdocs build --strict; tests/test_docs_site.py builds it when installed
        "docs": ["mkdocs>=1.6,<2", "mkdocs-material>=9.5,<10"],
        # the linter CI runs (ruff.toml): `ruff check .` from the repository root
        "lint": ["ruff>=0.15,<1"],
    },
    license="Apache-2.0",
)
