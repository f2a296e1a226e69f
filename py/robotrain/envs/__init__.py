"""Environment registry: ``make(name, num_envs, seed)`` builds any robotrain environment by name."""

from .acrobot import Acrobot
from .balancebot import BalanceBot
from .base import VectorEnv
from .cartpole import CartPole

ENVS: dict[str, type[VectorEnv]] = {"cartpole": CartPole, "acrobot": Acrobot, "balancebot": BalanceBot}
ENV_NAMES = tuple(ENVS)


def make(name: str, num_envs: int = 1, seed: int = 0) -> VectorEnv:
    """Return a new ``num_envs``-lane environment; ``ValueError`` for an unknown name."""
    if name not in ENVS:
        raise ValueError(f"unknown env {name!r}; choose one of {', '.join(ENV_NAMES)}")
    return ENVS[name](num_envs=num_envs, seed=seed)
