"""The live view: one lane played greedily with the latest published weights, restarting when an episode ends.

The page steps it once per animation frame (or per env time step) and draws ``env.state[0]``; the user can
push the robot (``push``) and watch the policy recover. Episodes use the viewer seed stream, so the robot on
screen never replays a training or evaluation episode.
"""

import numpy as np

from . import codec
from .envs import make
from .qnet import QNetwork
from .seeding import TRAIN_STREAM, VIEW_STREAM, episode_seed


class Viewer:
    def __init__(self, env_id: str, hidden_sizes=(64, 64), seed: int = 0, layer_norm: bool = False):
        self.env = make(env_id, 1, seed)
        self.seed = int(seed)
        self.net = QNetwork(self.env.obs_dim, self.env.num_actions, hidden_sizes, layer_norm=layer_norm)
        self.has_weights = False
        self.policy_version = -1
        self.episode = 0  # viewer episode counter
        self.episode_return = 0.0
        self.last_return = None  # return of the last finished viewer episode
        self.obs = self.env.reset(seeds=[episode_seed(self.seed, 0, VIEW_STREAM)])

    def set_weights(self, packed: np.ndarray) -> None:
        params, version = codec.unpack_weights(packed, expected_params=len(self.net.params))
        self.net.set_params(params)
        self.has_weights, self.policy_version = True, version

    def step(self) -> list:
        """Advance one env step greedily (a no-op action before any weights arrive); return the state row."""
        if self.has_weights:
            action = self.net.forward(self.obs).argmax(axis=1)
        else:
            action = np.zeros(1, dtype=np.int64)
        self.obs, reward, terminated, truncated = self.env.step(action)
        self.episode_return += float(reward[0])
        row = self.env.state[0].tolist()
        if terminated[0] or truncated[0]:
            self.last_return = self.episode_return
            self.episode_return = 0.0
            self.episode += 1
            self.obs = self.env.reset(seeds=[episode_seed(self.seed, self.episode, VIEW_STREAM)])
        return row

    def push(self, impulse: float) -> None:
        """Disturb the robot (rad/s added to its main angular velocity); ``ValueError`` if not finite."""
        self.env.push(0, impulse)
        self.obs = self.env.observe()

    def info(self) -> dict:
        return {"episode": self.episode, "t": int(self.env.elapsed[0]), "episode_return": self.episode_return,
                "last_return": self.last_return, "policy_version": self.policy_version}


def replay_states(env_id: str, run_seed: int, episode_id: int, actions, stream: int = TRAIN_STREAM) -> np.ndarray:
    """Re-simulate one finished episode exactly from its seed and its recorded actions.

    Returns float64 ``(len(actions) + 1, state_dim)``: the start state and the state after every action, so
    the page can scrub through it. ``ValueError`` for an action the env rejects.
    """
    env = make(env_id, 1, run_seed)
    env.reset(seeds=[episode_seed(run_seed, episode_id, stream)])
    actions = np.asarray(actions)
    if actions.ndim != 1 or len(actions) == 0:
        raise ValueError(f"replay needs a non-empty 1-D action sequence, got shape {actions.shape}")
    states = np.empty((len(actions) + 1, env.state_dim))
    states[0] = env.state[0]
    for t, a in enumerate(actions.astype(np.int64)):
        env.step(np.array([a]))
        states[t + 1] = env.state[0]
    return states
