"""The names PaddleClas's configs use that both the detection (:mod:`.dialect`) and the translation read."""

SECTIONS = ("Global", "AMP", "Arch", "Loss", "Optimizer", "DataLoader", "Metric", "Infer", "Export", "EMA")
GLOBAL_EXTRA = ("class_num", "eval_during_train", "image_shape", "image_channel", "save_inference_dir", "to_static",
                "use_dali")  # image_channel: only a YAML anchor in PaddleClas's files, read by no code
LEGACY_SECTIONS = ("ARCHITECTURE", "TRAIN", "VALID", "LEARNING_RATE", "OPTIMIZER")  # PaddleClas 2.0's layout

ARCHS = {f"ResNet{d}": f"resnet{d}" for d in (18, 34, 50, 101, 152)}  # PaddleClas's Arch.name -> ppnorm's model
ARCHS.update({f"ResNet{d}_vd": f"resnet{d}_vd" for d in (18, 34, 50, 101, 152)})
ARCHS.update({f"DenseNet{d}": f"densenet{d}" for d in (121, 161, 169, 201, 264)})
