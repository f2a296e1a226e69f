"""The actor: plays tasks on K vector lanes with an epsilon-greedy policy; returns one packed buffer per task.

Two kinds of task (``run_task`` / ``begin_task`` take either dict, as ``Run`` plans them):

- episodes (Double DQN and every evaluation): "play episodes ``first_id .. stop_id - 1``". Lanes take ids in
  order; a lane whose episode ends takes the next unplayed id until none is left. Everything random about an
  episode (its start state, its exploration coin flips and random actions) comes from the generator that the
  seed of its id (``seeding.episode_seed``) gives the lane at reset, so an episode is the same whichever
  worker, lane or task size plays it, given the same weights and epsilon.
- segment (PQN): "play ``steps`` steps of each lane of a lane group, from its lane table" (``codec`` layout:
  episode id, steps so far, return so far, state). A lane whose episode ends starts episode id + ``id_stride``
  (ids never collide across lanes). A lane that continues an episode gets a generator seeded from (episode seed,
  steps so far), so a segment depends only on its lane table, the weights and epsilon: any actor replays it
  exactly, which is what makes a lost segment safe to play again.
"""

import numpy as np

from . import codec
from .envs import make
from .qnet import QNetwork
from .seeding import TRAIN_STREAM, episode_seed

EXPLORE_CHUNK = 128  # exploration draws made per lane at a time, steps; refilled from the lane's episode generator


def _check_lanes(lanes) -> None:
    if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)) or lanes < 1:
        raise ValueError(f"lanes must be a positive integer, got {lanes!r}")


class Actor:
    """Holds a K-lane environment and a Q-network; ``run`` plays one task."""

    def __init__(self, env_id: str, run_seed: int, lanes: int, hidden_sizes=(64, 64), layer_norm: bool = False):
        _check_lanes(lanes)
        self.env_id = env_id
        self.env = make(env_id, int(lanes), run_seed)
        self.run_seed = int(run_seed)
        self.lanes = int(lanes)
        self.net = QNetwork(self.env.obs_dim, self.env.num_actions, hidden_sizes, layer_norm=layer_norm)
        self.policy_version = -1  # no weights yet
        self.width = codec.row_width(self.env.obs_dim)
        self._cols = codec.row_slices(self.env.obs_dim)
        self._task = None  # generator of the task being played by begin/advance
        self._result = None

    @property
    def num_params(self) -> int:
        return len(self.net.params)

    def set_lanes(self, lanes: int) -> None:
        """Play later tasks on ``lanes`` lanes (the page's adaptive task sizing). Episodes depend only on their
        ids, so this changes speed, never results; the weights are kept."""
        _check_lanes(lanes)
        if self._task is not None:
            raise ValueError("cannot change lanes while a task is in progress")
        if int(lanes) != self.lanes:
            self.env = make(self.env_id, int(lanes), self.run_seed)
            self.lanes = int(lanes)

    def set_weights(self, packed: np.ndarray) -> None:
        """Load a packed weight vector (codec KIND_WEIGHTS); ``ValueError`` if it does not fit this network."""
        params, version = codec.unpack_weights(packed, expected_params=self.num_params)
        self.net.set_params(params)
        self.policy_version = version

    def run_task(self, task: dict) -> np.ndarray:
        """Play one task dict (either kind, as ``Run`` plans it) to the end; return its packed result."""
        self.begin_task(task)
        self.advance(None)
        return self.finish()

    def begin_task(self, task: dict) -> None:
        """``begin`` for a task dict of either kind."""
        if task.get("kind") == "segment":
            table = np.asarray(task["lane_table"], dtype=np.float64)
            if table.ndim != 2 or table.shape[1] != codec.lane_cols(self.env.state_dim):
                raise ValueError(f"segment lane table must have shape (lanes, {codec.lane_cols(self.env.state_dim)}), "
                                 f"got {table.shape}")
            self.set_lanes(len(table))
            self._start(self._play_segment(table, task["steps"], task["epsilon"], task["id_stride"], task["segment_id"]))
        else:
            self.begin(task["first_id"], task["stop_id"], task["epsilon"], task.get("stream", TRAIN_STREAM))

    def run(self, first_id: int, stop_id: int, epsilon: float, stream: int = TRAIN_STREAM) -> np.ndarray:
        """Play episodes ``[first_id, stop_id)``; return the packed trajectory batch (float32)."""
        self.begin(first_id, stop_id, epsilon, stream)
        self.advance(None)
        return self.finish()

    def begin(self, first_id: int, stop_id: int, epsilon: float, stream: int = TRAIN_STREAM) -> None:
        """Start a task to be played in pieces with ``advance`` (for a host that must not block, like the
        page's main thread); the result is exactly what ``run`` would return."""
        self._start(self._play(first_id, stop_id, epsilon, stream))

    def _start(self, task) -> None:
        self._task, self._result = task, None
        try:
            next(task)  # argument checks happen here, before any step
        except BaseException:
            self._task = None  # a task refused at its start leaves the actor free for the next one
            raise

    def advance(self, max_steps: int | None) -> bool:
        """Play up to ``max_steps`` vector steps (all if None) of the current task; True once it is done."""
        if self._task is None:
            raise ValueError("no task in progress: call begin first")
        steps = 0
        while self._result is None and (max_steps is None or steps < max_steps):
            try:
                next(self._task)
                steps += 1
            except StopIteration as done:
                self._result = done.value
            except BaseException:
                self._task = None  # a failed task is over; the actor takes the next one
                raise
        return self._result is not None

    def finish(self) -> np.ndarray:
        """The packed result of the finished task."""
        if self._result is None:
            raise ValueError("task not finished: call advance until it returns True")
        result, self._task, self._result = self._result, None, None
        return result

    def _step(self, obs, draws, at, epsilon, rows):
        """One epsilon-greedy vector step of every lane: lane i's coin and random action are ``draws[i, :, at[i]]``.
        Writes the transitions into ``rows`` (K, W); returns (reward, terminated, truncated)."""
        lanes = np.arange(self.lanes)
        greedy = self.net.forward(obs).argmax(axis=1)
        explore = draws[lanes, 0, at] < epsilon
        actions = np.where(explore, (draws[lanes, 1, at] * self.env.num_actions).astype(np.int64), greedy)
        next_obs, reward, terminated, truncated = self.env.step(actions)
        c = self._cols
        rows[:, c["obs"]] = obs
        rows[:, c["action"]] = actions
        rows[:, c["reward"]] = reward
        rows[:, c["next_obs"]] = next_obs
        rows[:, c["terminated"]] = terminated
        rows[:, c["truncated"]] = truncated
        return reward, terminated, truncated

    def _play(self, first_id, stop_id, epsilon, stream):
        """Generator behind ``run``: yields once after the checks, then after every vector step."""
        if self.policy_version < 0:
            raise ValueError("actor has no weights: call set_weights first")
        first_id, stop_id = int(first_id), int(stop_id)
        if not 0 <= first_id < stop_id:
            raise ValueError(f"task episode ids must satisfy 0 <= first_id < stop_id, got [{first_id}, {stop_id})")
        if not (0.0 <= epsilon <= 1.0):
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
        env, k = self.env, self.lanes
        episode = np.full(k, -1, dtype=np.int64)  # episode id per lane, -1 when the lane is idle
        # Per lane and step of the current chunk: [0] the epsilon coin, [1] the random action as a fraction.
        draws = np.zeros((k, 2, EXPLORE_CHUNK))
        next_id = first_id

        def start(lanes_to_start):
            nonlocal next_id
            mask = np.zeros(k, dtype=bool)
            idle = np.zeros(k, dtype=bool)
            env_seeds = []
            for lane in lanes_to_start:
                if next_id >= stop_id:
                    episode[lane] = -1
                    idle[lane] = True
                    continue
                episode[lane] = next_id
                mask[lane] = True
                env_seeds.append(episode_seed(self.run_seed, next_id, stream))
                next_id += 1
            if env_seeds:
                env.reset(mask, env_seeds)
            if idle.any():
                # An idle lane keeps stepping with the others; restart it so its discarded state stays bounded.
                env.reset(idle)

        yield
        start(range(k))
        steps_rows, steps_lane = [], []
        finished = []  # (episode_id, length, return, terminated)
        ep_return = np.zeros(k)
        obs = env.observe()
        while True:
            active = episode >= 0
            if not active.any():
                break
            t = env.elapsed % EXPLORE_CHUNK
            for lane in np.flatnonzero(active & (t == 0)):
                draws[lane] = env.rngs[lane].random((2, EXPLORE_CHUNK))
            rows = np.empty((k, self.width), dtype=np.float32)
            reward, terminated, truncated = self._step(obs, draws, t, epsilon, rows)
            act_idx = np.flatnonzero(active)
            steps_rows.append(rows[act_idx])
            steps_lane.append(episode[act_idx])
            ep_return += reward
            done = np.flatnonzero(active & (terminated | truncated))
            for lane in done:
                finished.append((episode[lane], env.elapsed[lane], ep_return[lane], bool(terminated[lane])))
                ep_return[lane] = 0.0
            if len(done):
                start(done)
            obs = env.observe()
            yield
        # Group transitions by episode id (stable: time order is kept inside each episode).
        rows = np.concatenate(steps_rows)
        order = np.argsort(np.concatenate(steps_lane), kind="stable")
        table = np.array(sorted(finished), dtype=np.float64).reshape(-1, codec.EPISODE_COLS)
        return codec.pack_trajectories(table, rows[order], env.obs_dim, self.policy_version)

    def _play_segment(self, table, steps, epsilon, id_stride, segment_id):
        """Generator behind a segment task: yields once after the checks, then after every vector step."""
        if self.policy_version < 0:
            raise ValueError("actor has no weights: call set_weights first")
        steps, id_stride = int(steps), int(id_stride)
        if steps < 1 or id_stride < 1:
            raise ValueError(f"a segment needs steps >= 1 and id_stride >= 1, got {steps} and {id_stride}")
        if not (0.0 <= epsilon <= 1.0):
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
        episode = table[:, codec.LANE_EPISODE].astype(np.int64)
        elapsed = table[:, codec.LANE_ELAPSED].astype(np.int64)
        if episode.min() < 0 or elapsed.min() < 0:
            raise ValueError("segment lane table has a negative episode id or step count")
        env, k = self.env, self.lanes
        seeds = [episode_seed(self.run_seed, int(e), TRAIN_STREAM) for e in episode]
        fresh = elapsed == 0
        yield
        if fresh.any():
            env.reset(fresh, [seeds[lane] for lane in np.flatnonzero(fresh)])
        going = np.flatnonzero(~fresh)
        if len(going):
            env.restore(going, table[going, codec.LANE_STATE:], elapsed[going],
                        [[seeds[lane], int(elapsed[lane])] for lane in going])
        ep_return = table[:, codec.LANE_RETURN].astype(np.float64)
        since = np.zeros(k, dtype=np.int64)  # steps since each lane's generator was seeded
        draws = np.zeros((k, 2, EXPLORE_CHUNK))  # as in _play: [0] the epsilon coin, [1] the random action
        rows = np.empty((k, steps, self.width), dtype=np.float32)
        finished = []  # (episode_id, length, return, terminated)
        obs = env.observe()
        for t in range(steps):
            at = since % EXPLORE_CHUNK
            for lane in np.flatnonzero(at == 0):
                draws[lane] = env.rngs[lane].random((2, EXPLORE_CHUNK))
            reward, terminated, truncated = self._step(obs, draws, at, epsilon, rows[:, t])
            ep_return += reward
            since += 1
            done = np.flatnonzero(terminated | truncated)
            if len(done):
                for lane in done:
                    finished.append((int(episode[lane]), int(env.elapsed[lane]), float(ep_return[lane]),
                                     bool(terminated[lane])))
                episode[done] += id_stride
                ep_return[done] = 0.0
                since[done] = 0
                mask = np.zeros(k, dtype=bool)
                mask[done] = True
                env.reset(mask, [episode_seed(self.run_seed, int(e), TRAIN_STREAM) for e in episode[done]])
            obs = env.observe()
            yield
        end = np.empty((k, codec.lane_cols(env.state_dim)), dtype=np.float64)
        end[:, codec.LANE_EPISODE] = episode
        end[:, codec.LANE_ELAPSED] = env.elapsed
        end[:, codec.LANE_RETURN] = ep_return
        end[:, codec.LANE_STATE:] = env.state
        table = np.array(finished, dtype=np.float64).reshape(-1, codec.EPISODE_COLS)
        return codec.pack_segment(table, end, rows, env.obs_dim, segment_id, self.policy_version)
