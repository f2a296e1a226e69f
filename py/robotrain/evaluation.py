"""Greedy evaluation and the "solved" verdicts every host reports (no training here)."""

import numpy as np

from . import codec
from .actor import Actor
from .seeding import EVAL_STREAM

STAY_SOLVED_EVALS = 4  # evaluations after the first solved one that must also be solved
MAX_EVAL_LANES = 64  # an evaluator plays at most this many of its episodes at once


def evaluator(env_id: str, run_seed: int, episodes: int, hidden_sizes, layer_norm: bool = False) -> Actor:
    """The actor that plays a run's evaluation tasks (its lanes never change a result)."""
    return Actor(env_id, run_seed, min(episodes, MAX_EVAL_LANES), hidden_sizes, layer_norm)


def evaluate(env_id: str, run_seed: int, hidden_sizes, params: np.ndarray, episodes: int = 20,
             layer_norm: bool = False) -> float:
    """Mean greedy return of ``params`` over the run's ``episodes`` evaluation episodes (the ones Run uses)."""
    actor = evaluator(env_id, run_seed, episodes, hidden_sizes, layer_norm)
    actor.set_weights(codec.pack_weights(np.asarray(params, dtype=np.float32), 0))
    batch = codec.unpack_trajectories(actor.run(0, episodes, 0.0, EVAL_STREAM))
    return float(batch.episodes[:, 2].astype(np.float64).mean())


def stayed_solved(run) -> bool | None:
    """True if the STAY_SOLVED_EVALS evaluations after the first solved one were all solved; None if not known yet."""
    threshold = run.env_info()["solved_threshold"]
    returns = [r for _, r in run.evals]
    first = next((i for i, r in enumerate(returns) if r >= threshold), None)
    if first is None or len(returns) < first + 1 + STAY_SOLVED_EVALS:
        return None
    return all(r >= threshold for r in returns[first + 1:first + 1 + STAY_SOLVED_EVALS])
