"""Every hyperparameter in one dataclass, with CleanRL's names, per-env defaults and validation.

Each field has a one-line docstring right below it; ``Config.field_specs()`` reads those docstrings and the
limits in ``LIMITS`` so the page builds its form from this class, never from a copy.
"""

import ast
import dataclasses
import inspect
from dataclasses import dataclass, fields

from .envs import ENV_NAMES

# Inclusive limits per numeric field: (min, max). The page shows them and validates inline.
LIMITS: dict[str, tuple[float, float]] = {
    "seed": (0, 2**31 - 1),
    "total_timesteps": (1_000, 100_000_000),
    "learning_rate": (1e-6, 1.0),
    "end_learning_rate": (0.0, 1.0),
    "buffer_size": (1_000, 2_000_000),
    "gamma": (0.0, 1.0),
    "n_step": (1, 20),
    "tau": (1e-4, 1.0),
    "target_network_frequency": (1, 100_000),
    "batch_size": (1, 4096),
    "start_e": (0.0, 1.0),
    "end_e": (0.0, 1.0),
    "exploration_fraction": (0.0, 1.0),
    "learning_starts": (0, 100_000_000),
    "train_frequency": (1, 1000),
    "max_grad_norm": (0.01, 1000.0),
    "lanes": (1, 256),
    "episodes_per_task": (1, 1024),
    "batch_episodes": (1, 4096),
    "publish_every": (1, 100_000),
    "eval_interval": (100, 10_000_000),
    "eval_episodes": (1, 100),
    "num_envs": (1, 4096),
    "num_steps": (1, 4096),
    "num_minibatches": (1, 4096),
    "update_epochs": (1, 100),
    "q_lambda": (0.0, 1.0),
}
ALGORITHMS = ("ddqn", "pqn")
# Fields only one algorithm reads (the page shows a field when the chosen algorithm reads it); the rest both.
DDQN_ONLY = ("buffer_size", "n_step", "tau", "target_network_frequency", "batch_size", "learning_starts",
             "train_frequency", "episodes_per_task", "batch_episodes")
PQN_ONLY = ("num_envs", "num_steps", "num_minibatches", "update_epochs", "q_lambda")
MAX_HIDDEN_LAYERS = 4
MAX_HIDDEN_UNITS = 1024


@dataclass(frozen=True)
class Config:
    env_id: str = "cartpole"
    """environment name: cartpole, acrobot or balancebot"""
    algorithm: str = "ddqn"
    """learning algorithm: ddqn (Double DQN with replay, robotrain.learner) or pqn (parallelised Q-learning with
    LayerNorm and Q(lambda) rollouts, robotrain.pqn)"""
    seed: int = 0
    """run seed; every episode's seed derives from it and the episode id"""
    total_timesteps: int = 50_000
    """step budget: total environment steps of training"""
    learning_rate: float = 1e-3
    """Adam learning rate at the start of training"""
    end_learning_rate: float = 1e-4
    """learning rate reached linearly at total_timesteps (the same value disables annealing)"""
    buffer_size: int = 50_000
    """replay buffer capacity, transitions"""
    gamma: float = 0.99
    """discount factor"""
    n_step: int = 3
    """steps summed in each return before bootstrapping (1 is plain one-step Double DQN)"""
    tau: float = 0.01
    """target network update rate (1.0 is a hard copy)"""
    target_network_frequency: int = 1
    """learner updates between target network updates"""
    batch_size: int = 128
    """transitions per learner update"""
    start_e: float = 1.0
    """exploration epsilon at the start"""
    end_e: float = 0.05
    """exploration epsilon after the decay"""
    exploration_fraction: float = 0.2
    """fraction of total_timesteps over which epsilon decays linearly"""
    learning_starts: int = 1_000
    """environment steps collected before learning starts"""
    train_frequency: int = 2
    """environment steps per learner update"""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """units per hidden layer of the Q-network"""
    max_grad_norm: float = 10.0
    """gradient L2 norm clip"""
    lanes: int = 8
    """environment lanes each actor steps at once (vectorized)"""
    episodes_per_task: int = 2
    """episodes in one actor task (a sync batch is split into tasks that idle actors pull)"""
    batch_episodes: int = 8
    """episodes per synchronous batch, whatever the number of actors"""
    publish_every: int = 1
    """learner updates between weight publications, at least (sync: at a batch's end; async: after a slice)"""
    eval_interval: int = 5_000
    """environment steps between greedy evaluations (the first three come at 1/8, 1/4 and 1/2 of it)"""
    eval_episodes: int = 20
    """episodes per greedy evaluation"""
    num_envs: int = 32
    """pqn: environments stepped in parallel in total, in lane groups of ``lanes`` (one actor task each)"""
    num_steps: int = 8
    """pqn: steps each environment plays per rollout (the length of a segment)"""
    num_minibatches: int = 4
    """pqn: minibatches each rollout is split into, per epoch"""
    update_epochs: int = 4
    """pqn: passes over each rollout"""
    q_lambda: float = 0.65
    """pqn: lambda of the Q(lambda) returns (0 is one-step Q-learning, 1 the Monte Carlo return)"""

    def __post_init__(self):
        if self.env_id not in ENV_NAMES:
            raise ValueError(f"env_id: unknown env {self.env_id!r}; choose one of {', '.join(ENV_NAMES)}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm: unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in LIMITS:
                want = int if f.type in (int, "int") else float
                if isinstance(value, bool) or not isinstance(value, (int, float)) or (want is int and not float(value).is_integer()):
                    raise ValueError(f"{f.name}: must be {want.__name__}, got {value!r}")
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError(f"{f.name}: must be finite, got {value!r}")
                low, high = LIMITS[f.name]
                if not low <= value <= high:
                    raise ValueError(f"{f.name}: {value!r} is outside [{low}, {high}]")
                object.__setattr__(self, f.name, want(value))
        hs = self.hidden_sizes
        if isinstance(hs, str) or not hasattr(hs, "__len__") or not 1 <= len(hs) <= MAX_HIDDEN_LAYERS:
            raise ValueError(f"hidden_sizes: need 1 to {MAX_HIDDEN_LAYERS} layer sizes, got {hs!r}")
        if any(isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= MAX_HIDDEN_UNITS for h in hs):
            raise ValueError(f"hidden_sizes: each must be an integer in [1, {MAX_HIDDEN_UNITS}], got {hs!r}")
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in hs))
        if self.end_e > self.start_e:
            raise ValueError(f"end_e: {self.end_e} must not exceed start_e {self.start_e}")
        if self.end_learning_rate > self.learning_rate:
            raise ValueError(f"end_learning_rate: {self.end_learning_rate} must not exceed learning_rate {self.learning_rate}")
        if self.algorithm == "pqn":
            if self.num_envs % self.lanes:
                raise ValueError(f"num_envs: {self.num_envs} must be a multiple of lanes ({self.lanes}): each lane "
                                 f"group of {self.lanes} environments is one actor task")
            if self.num_minibatches > self.num_envs * self.num_steps:
                raise ValueError(f"num_minibatches: {self.num_minibatches} is more than the {self.num_envs * self.num_steps} "
                                 f"transitions of a rollout (num_envs x num_steps)")

    @property
    def layer_norm(self) -> bool:
        """Whether the Q-network has LayerNorm in its hidden layers (PQN's network)."""
        return self.algorithm == "pqn"

    @property
    def lane_groups(self) -> int:
        """pqn: lane groups, each one actor task per rollout."""
        return self.num_envs // self.lanes

    @classmethod
    def for_env(cls, env_id: str, **overrides) -> "Config":
        """The default configuration of ``env_id`` for the algorithm in ``overrides`` (default: the env's,
        ``DEFAULT_ALGORITHM``), with ``overrides`` applied (validated)."""
        if env_id not in ENV_DEFAULTS:
            raise ValueError(f"env_id: unknown env {env_id!r}; choose one of {', '.join(ENV_NAMES)}")
        algorithm = overrides.get("algorithm") or DEFAULT_ALGORITHM[env_id]
        overrides = {**overrides, "algorithm": algorithm}
        defaults = PQN_DEFAULTS.get(env_id, {}) if algorithm == "pqn" else ENV_DEFAULTS[env_id]
        return cls.from_dict({**defaults, "env_id": env_id, **overrides})

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        """Build from a plain dict (JSON, URL, file); unknown keys are an error, not silently dropped."""
        if not isinstance(d, dict):
            raise ValueError(f"config must be a JSON object, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"config: unknown field(s) {', '.join(unknown)}")
        d = dict(d)
        if "hidden_sizes" in d and isinstance(d["hidden_sizes"], list):
            d["hidden_sizes"] = tuple(d["hidden_sizes"])
        return cls(**d)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden_sizes"] = list(self.hidden_sizes)
        return d

    @classmethod
    def field_specs(cls, env_id: str = "cartpole", algorithm: str | None = None) -> list[dict]:
        """One JSON-safe entry per field for a UI form: name, type, default (for ``env_id`` and ``algorithm``,
        None: the env's), min, max, doc, ``algorithms`` (the algorithms that read it) and, for a text field,
        ``choices``."""
        defaults = cls.for_env(env_id, algorithm=algorithm).to_dict()
        docs = _field_docs(cls)
        specs = []
        for f in fields(cls):
            kind = "str" if f.name in ("env_id", "algorithm") else "int_list" if f.name == "hidden_sizes" else (
                "int" if f.type in (int, "int") else "float")
            low, high = LIMITS.get(f.name, (None, None))
            readers = ["ddqn"] if f.name in DDQN_ONLY else ["pqn"] if f.name in PQN_ONLY else list(ALGORITHMS)
            spec = {"name": f.name, "type": kind, "default": defaults[f.name], "min": low, "max": high,
                    "doc": docs.get(f.name, ""), "algorithms": readers}
            if f.name in ("env_id", "algorithm"):
                spec["choices"] = list(ENV_NAMES if f.name == "env_id" else ALGORITHMS)
            specs.append(spec)
        return specs


def _field_docs(cls) -> dict[str, str]:
    """Attribute docstrings (the string right after each field) from the class source."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    docs = {}
    for node, nxt in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            docs[node.target.id] = " ".join(str(nxt.value.value).split())
    return docs


# The algorithm each env trains with unless one is named: the one that solves fastest in the page and stays
# solved on seeds 0-2 under CPython (docs/tuning.md, "The default algorithm per env"). Cartpole: PQN, 6.9 s from
# navigation against Double DQN's 13.5 s; acrobot: Double DQN, 8.9 s against PQN's 10.8 s; balancebot: neither
# stays solved on both seeds measured, so PQN, 26.6 s against Double DQN's 602 s.
DEFAULT_ALGORITHM: dict[str, str] = {"cartpole": "pqn", "acrobot": "ddqn", "balancebot": "pqn"}

# Per-env defaults: only what differs from the dataclass defaults (which are cartpole's).
ENV_DEFAULTS: dict[str, dict] = {
    "cartpole": {},
    "acrobot": {"total_timesteps": 100_000, "buffer_size": 100_000, "exploration_fraction": 0.1, "train_frequency": 1,
                "learning_rate": 5e-4, "end_learning_rate": 5e-5},
    # Episodes of 8,000 steps at 100 Hz: a longer horizon (gamma 0.995, 5-step returns) and a wider network
    # than the short classic tasks (measured: 0.99 / 3 steps / 64x64 balanced but never followed the target).
    "balancebot": {"total_timesteps": 800_000, "buffer_size": 400_000, "exploration_fraction": 0.1, "gamma": 0.995,
                   "n_step": 5, "hidden_sizes": (128, 128), "learning_rate": 5e-4, "end_learning_rate": 5e-5,
                   "train_frequency": 2, "lanes": 2, "episodes_per_task": 1, "batch_episodes": 2, "eval_interval": 20_000},
}

# PQN's per-env defaults (``algorithm="pqn"``), complete rather than relative to the dataclass defaults, which
# are Double DQN's. docs/tuning.md has the measurements behind them.
PQN_DEFAULTS: dict[str, dict] = {
    "cartpole": {"algorithm": "pqn", "total_timesteps": 200_000, "learning_rate": 5e-4, "end_learning_rate": 5e-5,
                 "hidden_sizes": (64, 64), "num_envs": 64, "num_steps": 8, "num_minibatches": 8, "update_epochs": 8,
                 "q_lambda": 0.65, "exploration_fraction": 0.1, "lanes": 8, "eval_interval": 5_000},
    "acrobot": {"algorithm": "pqn", "total_timesteps": 200_000, "learning_rate": 5e-4, "end_learning_rate": 5e-5,
                "hidden_sizes": (64, 64), "num_envs": 64, "num_steps": 8, "num_minibatches": 8, "update_epochs": 8,
                "q_lambda": 0.3, "exploration_fraction": 0.1, "lanes": 8, "eval_interval": 5_000},
    "balancebot": {"algorithm": "pqn", "total_timesteps": 3_000_000, "learning_rate": 5e-4, "end_learning_rate": 5e-5,
                   "gamma": 0.995, "hidden_sizes": (128, 128), "num_envs": 32, "num_steps": 32, "num_minibatches": 4,
                   "update_epochs": 4, "q_lambda": 0.9, "exploration_fraction": 0.1, "lanes": 8,
                   # One evaluation plays up to 20 x 8,000 steps: every 100,000 training steps, not 50,000, it
                   # holds a worker for less of the run (docs/tuning.md, "Balancebot").
                   "eval_interval": 100_000},
}
