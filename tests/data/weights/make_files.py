"""Write the small weight files in this folder the ways Paddle writes them (run once, with numpy 1.x).

The files were made with paddlepaddle 3.0.0 and numpy 1.26.4, so their pickles name numpy 1.x's
modules (numpy.core.multiarray), as files saved before numpy 2 do (published paddle.vision and
PaddleClas weights): ``python tests/data/weights/make_files.py tests/data/weights``. Every value is
``np.arange`` based, so tests/test_safe_load.py can check what loads without trusting paddle.load.
"""
import os
import pickle
import sys

import numpy as np
import paddle
from paddle.framework import io as paddle_io


def values(shape, start=0):
    return (np.arange(int(np.prod(shape)), dtype="float32") + start).reshape(shape)


def main(out):
    layer = paddle.nn.Linear(4, 3)
    layer.set_state_dict({"weight": values([4, 3]), "bias": values([3], 100)})
    state = layer.state_dict()
    paddle.save(state, os.path.join(out, "numpy1_p4.pdparams"))  # paddle.save of a state_dict, protocol 4
    paddle_io._legacy_save(state, os.path.join(out, "numpy1_p2.pdparams"), protocol=2)  # Paddle 2.0's format
    arrays = {key: value.numpy() for key, value in state.items()}
    arrays["StructuredToParameterName@@"] = {key: value.name for key, value in state.items()}
    with open(os.path.join(out, "numpy1_pickle_p2.pdparams"), "wb") as handle:  # fluid's save_dygraph
        pickle.dump(arrays, handle, protocol=2)
    optimizer = paddle.optimizer.Momentum(0.1, parameters=layer.parameters())
    layer(paddle.to_tensor(values([2, 4]))).mean().backward()
    optimizer.step()
    paddle.save([optimizer.state_dict()], os.path.join(out, "numpy1_list.pdopt"))  # PaddleClas: a list of states
    paddle.save({"metric": np.float64(0.5), "epoch": 1}, os.path.join(out, "numpy1.pdstates"))  # PaddleClas's


if __name__ == "__main__":
    main(sys.argv[1])
