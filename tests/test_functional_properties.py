"""Property tests (hypothesis) of the reference math: random shapes (rank 2-5), channels first or
last, groups, epsilons, momenta, dropout probabilities and axes, each checked against
``paddle.nn.functional`` in the output and in the gradient of every input. Paddle runs in float64
there: with 2-4 values per group its float32 kernels lose digits (a batch-norm gradient of 30.588 came
out 30.596 in float32; float64 and ours: 30.58836), so float64 is the reference that holds everywhere.

Reproducible: ``derandomize=True`` draws the same examples on every run, and no example database
is written. Without hypothesis the module is skipped (``pip install -e .[test]``).
"""
import numpy as np
import paddle
import paddle.nn.functional as PF
import pytest

pytest.importorskip("hypothesis", reason="the property tests need hypothesis: pip install hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_functional import channels_first, assert_match  # noqa: E402

import ppnorm.nn.functional as F  # noqa: E402

pytestmark = [pytest.mark.oldest_paddle, pytest.mark.filterwarnings("ignore:Tensor do not have 'place'")]
PROPERTY = settings(max_examples=30, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
FORMATS = {2: ("NC", "NC"), 3: ("NCL", "NLC"), 4: ("NCHW", "NHWC"), 5: ("NCDHW", "NDHWC")}
EPSILON = st.sampled_from([1e-5, 1e-4, 1e-3])
TOL = 1e-5


def _float64(fn):
    """fn run by Paddle in float64, fed and returning float32 (gradients flow through the casts)."""
    return lambda *tensors: fn(*(t.astype("float64") for t in tensors)).astype("float32")


@st.composite
def inputs(draw, channels=(1, 2, 3, 4, 6)):
    """(x, weight, bias, data_format): x of rank 2-5, dims 1-4, channels first or last, any scale."""
    rank = draw(st.integers(2, 5))
    c = draw(st.sampled_from(channels))
    dims = draw(st.lists(st.integers(1, 4), min_size=rank - 1, max_size=rank - 1))
    last = rank > 2 and draw(st.booleans())
    shape = [dims[0], *dims[1:], c] if last else [dims[0], c, *dims[1:]]
    rng = np.random.RandomState(draw(st.integers(0, 2 ** 16)))
    scale, shift = draw(st.sampled_from([0.5, 1.0, 10.0])), draw(st.sampled_from([0.0, 5.0]))
    x = (rng.randn(*shape) * scale + shift).astype("float32")
    return x, rng.rand(c).astype("float32") + 0.5, rng.randn(c).astype("float32"), FORMATS[rank][last]


@PROPERTY
@given(inputs(), EPSILON, st.sampled_from([0.0, 0.5, 0.9]),
       st.sampled_from([(True, None), (False, None), (True, True)]))  # (training, use_global_stats)
def test_batch_norm_property(case, epsilon, momentum, mode):
    x, w, b, data_format = case
    running = [np.full(w.size, 0.5, "float32"), np.full(w.size, 2.0, "float32")]
    kw = dict(training=mode[0], use_global_stats=mode[1], momentum=momentum, epsilon=epsilon, data_format=data_format)
    theirs_stats, ours_stats = [paddle.to_tensor(r, dtype="float64") for r in running], []

    def ours(x, w, b):
        y, *stats = F.batch_norm(x, *map(paddle.to_tensor, running), w, b, **kw)
        ours_stats[:] = stats
        return y

    assert_match(ours, _float64(lambda x, w, b: PF.batch_norm(x, *theirs_stats, w, b, **kw)), [x, w, b], tol=TOL)
    for a, b in zip(ours_stats, theirs_stats):  # Paddle updates its pair in place
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=TOL, rtol=TOL)


@PROPERTY
@given(inputs(), st.integers(1, 4), st.sampled_from([0.0, 1e-5, 1e-3]))
def test_layer_norm_property(case, trailing, epsilon):
    x = case[0]
    shape = list(x.shape[x.ndim - min(trailing, x.ndim - 1):])  # Paddle never normalizes axis 0
    rng = np.random.RandomState(x.size)
    w, b = rng.rand(*shape).astype("float32") + 0.5, rng.randn(*shape).astype("float32")
    if epsilon == 0.0:  # a group of equal values would be 0/0 in both
        x = x + np.arange(x.size, dtype="float32").reshape(x.shape) % 7 * 0.1
    theirs = _float64(lambda x, w, b: PF.layer_norm(x, shape, w.flatten(), b.flatten(), epsilon))
    assert_match(lambda x, w, b: F.layer_norm(x, shape, w, b, epsilon), theirs, [x, w, b], tol=TOL)


@PROPERTY
@given(inputs(), EPSILON)
def test_instance_norm_property(case, epsilon):
    x, w, b, data_format = case
    theirs = channels_first(lambda x, w, b: PF.instance_norm(x, weight=w, bias=b, eps=epsilon), data_format)
    assert_match(lambda x, w, b: F.instance_norm(x, w, b, epsilon, data_format), _float64(theirs), [x, w, b], tol=TOL)


@PROPERTY
@given(inputs(channels=(1, 2, 4, 6, 8)), st.sampled_from([1, 2, 3, 4, 6, 8]), EPSILON)
def test_group_norm_property(case, groups, epsilon):
    x, w, b, data_format = case
    groups = groups if w.size % groups == 0 else 1
    data_format = "NCHW" if data_format == "NC" else data_format  # Paddle names [N, C] so
    assert_match(lambda x, w, b: F.group_norm(x, groups, w, b, epsilon, data_format),
                 _float64(lambda x, w, b: PF.group_norm(x, groups, epsilon, w, b, data_format)), [x, w, b], tol=TOL)


@PROPERTY
@given(inputs(), st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), st.sampled_from(F.DROPOUT_MODES),
       st.booleans(), st.lists(st.integers(0, 4), max_size=3, unique=True))
def test_dropout_property(case, p, mode, training, axis):
    """Our dropout, given the mask Paddle drew (read off its output), matches it and its gradient."""
    x_np = np.abs(case[0]) + 0.1  # no zeros, so the mask can be read off Paddle's output
    axis = [a for a in axis if a < x_np.ndim] or None
    x = paddle.to_tensor(x_np, stop_gradient=False)
    theirs = PF.dropout(x, p, axis=axis, training=training, mode=mode)
    mask = paddle.to_tensor((theirs.numpy() != 0).astype("float32"))
    if axis is not None:  # one draw per index of the drop axes, shared along the others
        shared = tuple(slice(None) if a in axis else slice(0, 1) for a in range(x_np.ndim))
        np.testing.assert_array_equal(mask.numpy(), np.broadcast_to(mask.numpy()[shared], x_np.shape))
    assert_match(lambda x: F.dropout(x, p, training, mode, axis, mask=mask),
                 lambda x: x * paddle.to_tensor(theirs.numpy() / x_np), [x_np], tol=1e-6)
    upstream = paddle.to_tensor(np.random.RandomState(1).randn(*x_np.shape).astype("float32"))
    (their_grad,) = paddle.grad(theirs, x, upstream)
    np.testing.assert_allclose(their_grad.numpy(), upstream.numpy() * theirs.numpy() / x_np, rtol=1e-6, atol=1e-6)


@PROPERTY
@given(inputs(), st.sampled_from([0.0, 0.5, 1.0]), st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True))
def test_dropout_mask_property(case, p, axis):
    """A drawn mask holds 0/1 only (all 1 at p=0, all 0 at p=1), one draw per index of the drop axes."""
    x = case[0]
    axis = [a for a in axis if a < x.ndim] or [0]
    mask = F.dropout_mask(paddle.to_tensor(x), p, axis).numpy()
    assert mask.shape == tuple(d if a in axis else 1 for a, d in enumerate(x.shape))
    assert set(np.unique(mask)) <= ({1.0} if p == 0.0 else {0.0} if p == 1.0 else {0.0, 1.0})
