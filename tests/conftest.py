import helpers
import numpy as np
import paddle
import pytest

paddle.set_device("cpu")


@pytest.fixture(autouse=True)
def _seed():
    paddle.seed(0)
    np.random.seed(0)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    helpers.running["test"] = item  # before its fixtures: a module fixture that runs a tool counts for this test


def pytest_runtest_teardown(item):
    helpers.running["test"] = None
