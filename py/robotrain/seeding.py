"""Episode seeds derive from (run seed, stream, episode id), never from which worker or lane ran an episode.

Two independent 32-bit integers per episode come out of one ``SeedSequence``: the environment's seed (passed
to ``env.reset(seeds=...)``, the same integer Gymnasium's ``reset(seed=...)`` would take) and the seed of the
exploration stream that draws the epsilon-greedy coin flips and random actions.
"""

import numpy as np

TRAIN_STREAM = 0  # episodes played to fill the replay buffer
EVAL_STREAM = 1  # greedy evaluation episodes; disjoint from training ids by construction
VIEW_STREAM = 2  # episodes the page plays live for the viewer


def episode_seeds(run_seed: int, episode_id: int, stream: int = TRAIN_STREAM) -> tuple[int, int]:
    """Return ``(env_seed, explore_seed)`` for one episode; a pure function of its arguments."""
    if run_seed < 0 or episode_id < 0:
        raise ValueError(f"seeds need run_seed >= 0 and episode_id >= 0, got {run_seed}, {episode_id}")
    env_seed, explore_seed = np.random.SeedSequence([run_seed, stream, episode_id]).generate_state(2)
    return int(env_seed), int(explore_seed)
