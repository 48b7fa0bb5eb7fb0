"""paddle.hub entry points of a clone: ``paddle.hub.load(".", "resnet18", source="local")``; see ppnorm/hubconf.py."""
from ppnorm.hubconf import *  # noqa: F401,F403  (dependencies and one entry per model)
