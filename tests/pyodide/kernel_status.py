"""Which path each part takes after the harness selected a kernel choice (tests/test_kernel.py)."""

import json


from robotrain import kernel
from robotrain.learner import Learner
from robotrain.config import Config

learner = Learner(Config.for_env("cartpole", algorithm="ddqn"), 4, 2)
paths = [learner.q.path, learner.target.path, "numpy" if learner.replay.kernel is None else "wasm-simd"]
print("RESULT " + json.dumps({"status": kernel.status(), "paths": paths}))
