"""What the resume tests compare: a checkpoint's weights, bitwise."""
import numpy as np
import paddle


def load_weights(prefix):
    """``{name: tensor}`` of ``<prefix>.pdparams``."""
    return paddle.load(str(prefix) + ".pdparams")


def assert_same_weights(a, b):
    """The same parameter names, each with bitwise-equal values."""
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)
