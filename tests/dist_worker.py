"""Run under paddle.distributed.launch by test_distributed.py: train, then dump this rank's weights."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import paddle  # noqa: E402

from ppnorm.engine import Trainer, load_config  # noqa: E402

out = sys.argv[1]
config = load_config("configs/digits/resnet20.yaml", [
    f"Global.output_dir={out}/run", "Global.epochs=1", "Global.use_visualdl=false",
    "DataLoader.Eval.dataset.test_size=0.2005",  # 361 test images: one rank gets a padded sample
    "DataLoader.Eval.batch_size=64"])
trainer = Trainer(config)
result = trainer.train()
rank = paddle.distributed.get_rank()
paddle.save(trainer.model.state_dict(), f"{out}/rank{rank}.pdparams")
paddle.save(trainer.ema.model.state_dict(), f"{out}/rank{rank}_ema.pdparams")  # the config's EMA.decay is on
with open(f"{out}/rank{rank}.json", "w") as handle:
    json.dump(result, handle)
