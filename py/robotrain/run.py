"""One training run's learner and episode bookkeeping, the same on every host (CPython, the page, Ray).

``robotrain.schedule`` decides the order; a host carries out its commands with these calls:

    tasks = run.plan_tasks(n)             # next episode ids, with epsilon (the schedule plans them)
    packed = actor.run(**task)            # on any actor, any lane count
    run.ingest(packed)                    # whole or not at all; each episode id at most once
    run.learn(n)                          # up to n of the updates the data has earned (``updates_due``)
    run.ingest_eval(actor.run(**run.plan_eval()))   # a greedy evaluation, when ``eval_due()``

Episodes depend only on their ids, the weights and epsilon, and the learner only on the order of ingest, so
a schedule that fixes that order gives the same curve for any number of actors or lanes, and on every host.

With ``algorithm="pqn"`` the unit of work is a segment instead of a range of episode ids: the next
``num_steps`` steps of one lane group (``config.lanes`` persistent environments; ``num_envs / lanes`` groups).
``plan_tasks`` plans the next segment of idle groups, each from the lane table its previous segment ended with;
``ingest`` takes a segment once (by segment id: a segment played twice, say by a replacement worker, is the same
segment and the second copy is dropped) and moves its group on. A group has one segment in flight at most, so
a lost segment is simply played again from the same lane table and nothing of its episodes is lost.
"""

import dataclasses
import io
import json
import time
from collections import deque

import numpy as np

from . import codec
from .config import Config
from .envs import make
from .learner import Learner
from .pqn import PQNLearner
from .seeding import EVAL_STREAM, TRAIN_STREAM

RECENT_WINDOW_S = 30.0  # throughput figures average over this much recent wall time, s
# Updates between copies of the learner's last good state (weights, target, Adam moments): a divergence
# loses at most this many updates. A copy is four parameter-sized vectors, small next to 100 updates.
CHECKPOINT_EVERY = 100
# Per-episode rows (id, return, length) and per-batch policy lags kept: the newest this many. A page that
# trains for hours ingests ~100,000 episodes an hour; keeping every row made its memory grow all run long.
# Exactly-once bookkeeping (``ingested``, one byte per issued id) is kept whole; the charts keep their own
# thinned copy of the whole curve.
HISTORY_ROWS = 16_384
# The first evaluations come early, at these fractions of ``eval_interval``, so that a long run (the robot's first
# interval is 20,000-50,000 env steps) shows a greedy curve within its first minute; then one every interval.
EARLY_EVALS = (1 / 8, 1 / 4, 1 / 2)


def next_eval_point(env_steps: int, interval: int) -> int:
    """The env step of the first evaluation after ``env_steps``: an early one (``EARLY_EVALS``), else the next
    multiple of ``interval``."""
    for fraction in EARLY_EVALS:
        if env_steps < (point := int(interval * fraction)):
            return point
    return (env_steps // interval + 1) * interval


class Diverged(ArithmeticError):
    """The loss or the weights became NaN or Inf; the run has already rolled back to its last good state."""


class Run:
    def __init__(self, config: Config):
        self.config = config
        probe = make(config.env_id, 1, config.seed)
        self.env_info_ = {
            "env_id": config.env_id,
            "obs_dim": probe.obs_dim,
            "state_dim": probe.state_dim,
            "num_actions": probe.num_actions,
            "max_steps": probe.max_steps,
            "solved_threshold": probe.solved_threshold,
            "draw_spec": probe.draw_spec(),
        }
        learner = PQNLearner if config.algorithm == "pqn" else Learner
        self.learner = learner(config, probe.obs_dim, probe.num_actions)
        self.next_episode_id = 0
        self.ingested = bytearray()  # ingested[id] == 1 once episode id has been ingested
        self.env_steps = 0
        self.episodes = deque(maxlen=HISTORY_ROWS)  # (episode_id, return, length), newest in ingest order
        self.episodes_ingested = 0  # every ingest, the rows dropped from ``episodes`` included
        self.evals = []  # (env_step, mean_return)
        self.next_eval_at = next_eval_point(0, config.eval_interval)
        self.pending_eval_step = None
        self.staleness = deque(maxlen=HISTORY_ROWS)  # policy versions behind at ingest, one per recent batch
        self.duplicates_dropped = 0
        self.divergences = 0
        self._good = None  # the learner's snapshot() of its last finite state (its last item: the update count)
        self.started = time.monotonic()
        self._recent = []  # (wall time, episodes so far, env steps so far, updates so far)
        if config.algorithm == "pqn":
            # Lane tables (lanes, codec.lane_cols): lane j of group g starts episode g * lanes + j, then every
            # num_envs ids on (episode ids never collide across lanes).
            cols = codec.lane_cols(probe.state_dim)
            self.groups = [np.zeros((config.lanes, cols), dtype=np.float32) for _ in range(config.lane_groups)]
            for g, table in enumerate(self.groups):
                table[:, codec.LANE_EPISODE] = g * config.lanes + np.arange(config.lanes)
            self.in_flight = {}  # segment id -> group, for segments planned and not yet ingested
            self.next_segment_id = 0
            self.segments_ingested = bytearray()  # [id] == 1 once segment id has been ingested

    def env_info(self) -> dict:
        return dict(self.env_info_)

    @property
    def policy_version(self) -> int:
        return self.learner.policy_version

    def epsilon(self) -> float:
        """CleanRL's linear schedule, by environment steps ingested so far."""
        c = self.config
        duration = c.exploration_fraction * c.total_timesteps
        if duration <= 0:
            return c.end_e
        return max(c.end_e, c.start_e + (c.end_e - c.start_e) * self.env_steps / duration)

    def plan_tasks(self, n_episodes: int | None = None, episodes_per_task: int | None = None) -> list[dict]:
        """Allocate the next ``n_episodes`` training ids (default ``batch_episodes``), split into tasks of
        ``episodes_per_task`` ids (default the config's). The split never changes an episode."""
        n = self.config.batch_episodes if n_episodes is None else int(n_episodes)
        per = self.config.episodes_per_task if episodes_per_task is None else int(episodes_per_task)
        if n < 1:
            raise ValueError(f"plan_tasks needs at least one episode, got {n}")
        if per < 1:
            raise ValueError(f"plan_tasks needs at least one episode per task, got {per}")
        first, stop = self.next_episode_id, self.next_episode_id + n
        self.next_episode_id = stop
        self.ingested.extend(bytes(n))
        eps, version = self.epsilon(), self.policy_version
        return [{"first_id": a, "stop_id": min(a + per, stop), "epsilon": eps, "policy_version": version,
                 "stream": TRAIN_STREAM} for a in range(first, stop, per)]

    def plan_segments(self, max_groups: int | None = None) -> list[dict]:
        """pqn: the next segment of up to ``max_groups`` idle lane groups (default all), in group order. A
        segment id is issued once; ids count up in planning order."""
        c = self.config
        busy = set(self.in_flight.values())
        idle = [g for g in range(c.lane_groups) if g not in busy][:None if max_groups is None else int(max_groups)]
        eps, version, tasks = self.epsilon(), self.policy_version, []
        for g in idle:
            sid = self.next_segment_id
            self.next_segment_id += 1
            self.segments_ingested.append(0)
            self.in_flight[sid] = g
            tasks.append({"kind": "segment", "segment_id": sid, "group": g, "steps": c.num_steps, "epsilon": eps,
                          "policy_version": version, "id_stride": c.num_envs,
                          "lane_table": self.groups[g].astype(np.float64).tolist()})
        return tasks

    def regroup(self, lanes: int) -> bool:
        """pqn: split the same ``num_envs`` environments into groups of ``lanes`` (one actor task each), between
        rollouts. Nothing changes for an episode or the rollout: lane j of group g is lane g * lanes + j of the
        run either way, its table row carries its whole state, and the rollout stacks the lanes in that order. A
        host picks the grouping that suits its actors (one task per actor: fewer, fuller vector steps). False
        (and nothing changed) while segments are in flight or a rollout is half ingested."""
        c = self.config
        if c.algorithm != "pqn":
            raise ValueError(f"regroup: only pqn runs have lane groups, this one is {c.algorithm}")
        lanes = int(lanes)
        if lanes < 1 or c.num_envs % lanes:
            raise ValueError(f"lanes: {c.num_envs} environments do not split into groups of {lanes}")
        if self.in_flight or self.learner.pending:
            return False
        if lanes != c.lanes:
            self.config = dataclasses.replace(c, lanes=lanes)  # validated like any config
            table = np.concatenate(self.groups)
            self.groups = [table[a:a + lanes].copy() for a in range(0, c.num_envs, lanes)]
        return True

    def ingest(self, packed: np.ndarray) -> dict:
        """Add one actor result to the learner (replay buffer or rollout), whole or not at all.

        ``ValueError`` for a corrupt buffer, an id that was never issued, or a batch of the wrong env;
        a batch whose ids were all ingested before (a late duplicate) is dropped and counted.
        """
        if self.config.algorithm == "pqn":
            return self._ingest_segment(packed)
        batch = codec.unpack_trajectories(packed)
        ids = batch.episode_ids
        if len(ids) == 0:
            raise ValueError("trajectory batch holds no episodes")
        if ids.max() >= self.next_episode_id:
            raise ValueError(f"trajectory batch has episode id {ids.max()} that was never issued")
        seen = np.frombuffer(self.ingested, dtype=np.uint8)[ids]
        if seen.all():
            self.duplicates_dropped += len(ids)
            return {"episodes": [], "transitions": 0, "duplicate": True}
        if seen.any():
            raise ValueError(f"trajectory batch mixes ingested and new episode ids: {ids.tolist()}")
        self.learner.ingest(batch)
        for eid in ids:
            self.ingested[eid] = 1
        rows = [[int(e), float(r), int(n)] for e, n, r, _ in batch.episodes.tolist()]
        self.episodes.extend((e, r, n) for e, r, n in rows)
        self.episodes_ingested += len(rows)
        self.env_steps += len(batch.transitions)
        lag = self.policy_version - batch.policy_version
        self.staleness.append(lag)
        return {"episodes": rows, "transitions": len(batch.transitions), "policy_version": batch.policy_version,
                "staleness": lag, "duplicate": False}

    def _ingest_segment(self, packed: np.ndarray) -> dict:
        seg = codec.unpack_segment(packed)
        sid = seg.segment_id
        if sid >= self.next_segment_id:
            raise ValueError(f"segment {sid} was never issued")
        if self.segments_ingested[sid]:
            self.duplicates_dropped += 1
            return {"episodes": [], "transitions": 0, "duplicate": True}
        if sid not in self.in_flight:
            raise ValueError(f"segment {sid} is no longer expected (its group was planned again after a restore)")
        c, g = self.config, self.in_flight[sid]
        if seg.obs_dim != self.env_info_["obs_dim"] or seg.lanes.shape != self.groups[g].shape:
            raise ValueError(f"segment {sid} has obs_dim {seg.obs_dim} and lane table {seg.lanes.shape}; lane group {g} "
                             f"of this run needs {self.env_info_['obs_dim']} and {self.groups[g].shape}")
        if np.any(seg.lanes[:, [codec.LANE_EPISODE, codec.LANE_ELAPSED]] < 0):
            raise ValueError(f"segment {sid} has a negative episode id or step count in its lane table")
        self.learner.ingest_segment(seg.transitions)
        del self.in_flight[sid]
        self.segments_ingested[sid] = 1
        self.groups[g] = seg.lanes.copy()
        rows = [[int(e), float(r), int(n)] for e, n, r, _ in seg.episodes.tolist()]
        self.episodes.extend((e, r, n) for e, r, n in rows)
        self.episodes_ingested += len(rows)
        self.env_steps += seg.transitions.shape[0] * seg.transitions.shape[1]
        lag = self.policy_version - seg.policy_version
        self.staleness.append(lag)
        return {"episodes": rows, "transitions": seg.transitions.shape[0] * seg.transitions.shape[1],
                "policy_version": seg.policy_version, "staleness": lag, "duplicate": False}

    @property
    def updates_due(self) -> int:
        """Learner updates the schedule has earned and not yet done: one per ``train_frequency`` env steps
        (pqn: ``update_epochs x num_minibatches`` per whole rollout)."""
        c = self.config
        if c.algorithm == "pqn":
            return self.learner.updates_due
        if self.env_steps < c.learning_starts:
            return 0
        return max(0, (self.env_steps - c.learning_starts) // c.train_frequency - self.learner.updates)

    def learn(self, max_updates: int) -> int:
        """Run up to ``max_updates`` of the due updates; return how many ran.

        ``Diverged`` if the loss or the weights stop being finite: the learner is then back at its last good
        state (the update counter, and so the policy version, keeps counting) and learning can go on.
        """
        n = min(int(max_updates), self.updates_due)
        if not self._learner_finite():
            self._rollback("NaN or Inf in the weights")
        if self._good is None or self.learner.updates - self._good[-1] >= CHECKPOINT_EVERY:
            self._checkpoint()
        for _ in range(n):
            loss = self.learner.update(self.env_steps)
            if not np.isfinite(loss):
                self._rollback(f"the loss became {loss}")
        if n and not self._learner_finite():
            self._rollback("NaN or Inf in the weights")
        return n

    def _learner_finite(self) -> bool:
        return self.learner.finite()

    def _checkpoint(self) -> None:
        self._good = self.learner.snapshot()

    def _rollback(self, why: str):
        lr = self.learner
        self.divergences += 1
        if self._good is None:
            raise Diverged(f"{why} at update {lr.updates}, before any good weights were kept")
        lr.restore(self._good)
        raise Diverged(f"{why} at update {lr.updates}; rolled back to the weights of update {self._good[-1]}")

    def weights_packed(self) -> np.ndarray:
        """The learner's weights for the actors, never non-finite ones: ``Diverged`` (after the rollback) instead.

        ``learn`` leaves finite weights, but anything that writes them between two slices (a host's publication
        comes first in its order) must not send NaN to the actors, who would refuse it."""
        if not self._learner_finite():
            self._rollback("NaN or Inf in the weights")
        return self.learner.weights_packed()

    def eval_due(self) -> bool:
        return self.pending_eval_step is None and self.env_steps >= self.next_eval_at

    def plan_eval(self) -> dict:
        """The greedy evaluation task: the same ``eval_episodes`` evaluation seeds every time."""
        self.pending_eval_step = self.env_steps
        self.next_eval_at = next_eval_point(self.env_steps, self.config.eval_interval)
        return {"first_id": 0, "stop_id": self.config.eval_episodes, "epsilon": 0.0,
                "policy_version": self.policy_version, "stream": EVAL_STREAM}

    def ingest_eval(self, packed: np.ndarray) -> float:
        batch = codec.unpack_trajectories(packed)
        if self.pending_eval_step is None:
            raise ValueError("no evaluation is pending")
        if len(batch.episodes) != self.config.eval_episodes:
            raise ValueError(f"evaluation returned {len(batch.episodes)} episodes, expected {self.config.eval_episodes}")
        mean = float(batch.episodes[:, 2].astype(np.float64).mean())
        self.evals.append((self.pending_eval_step, mean))
        self.pending_eval_step = None
        return mean

    def solved_at(self) -> int | None:
        """Env step of the first evaluation at or above the env's threshold, or None."""
        threshold = self.env_info_["solved_threshold"]
        return next((step for step, ret in self.evals if ret >= threshold), None)

    def stats(self) -> dict:
        now = time.monotonic()
        point = (now, self.episodes_ingested, self.env_steps, self.learner.updates)
        self._recent.append(point)
        while len(self._recent) > 2 and now - self._recent[1][0] > RECENT_WINDOW_S:
            self._recent.pop(0)
        t0, e0, s0, u0 = self._recent[0]
        dt = max(now - t0, 1e-9)
        evals = [r for _, r in self.evals]
        ingested = int(np.count_nonzero(np.frombuffer(self.ingested, dtype=np.uint8)))
        if self.config.algorithm == "pqn":  # episodes are not planned ahead: each one is counted as it ends
            ingested = self.episodes_ingested
        out = {
            "episodes": self.episodes_ingested,
            "env_steps": self.env_steps,
            "updates": self.learner.updates,
            "policy_version": self.policy_version,
            "epsilon": self.epsilon(),
            "loss": self.learner.last_loss if np.isfinite(self.learner.last_loss) else None,
            "episodes_per_min": (self.episodes_ingested - e0) * 60.0 / dt if dt > 0.5 else 0.0,
            "env_steps_per_s": (self.env_steps - s0) / dt if dt > 0.5 else 0.0,
            "updates_per_s": (self.learner.updates - u0) / dt if dt > 0.5 else 0.0,
            "last_eval_return": evals[-1] if evals else None,
            "best_eval_return": max(evals) if evals else None,
            "solved_at_env_step": self.solved_at(),
            "mean_staleness": float(np.mean([self.staleness[-i] for i in range(1, min(100, len(self.staleness)) + 1)]))
            if self.staleness else 0.0,
            "duplicates_dropped": self.duplicates_dropped,
            # Exactly-once bookkeeping: ids planned, ids ingested, and ingests beyond one per id (always 0).
            "episodes_issued": self.next_episode_id if self.config.algorithm == "ddqn" else ingested,
            "episodes_ingested": ingested,
            "episodes_duplicated": self.episodes_ingested - ingested,
            "divergences": self.divergences,
            "replay_size": self.learner.stored,
        }
        if self.config.algorithm == "pqn":
            segments = int(np.count_nonzero(np.frombuffer(self.segments_ingested, dtype=np.uint8)))
            out.update(segments_issued=self.next_segment_id, segments_ingested=segments,
                       segments_in_flight=len(self.in_flight), segment_lanes=self.config.lanes)
        return out

    def history(self) -> dict:
        """The newest ``HISTORY_ROWS`` episodes as [id, return, length] in id order, and every evaluation."""
        return {"episodes": [list(e) for e in sorted(self.episodes)], "evals": [list(e) for e in self.evals]}

    def to_bytes(self) -> bytes:
        """The whole training state (weights, optimizer, replay buffer or rollouts, counters, RNG, curves, pqn's
        lane tables) as one .npz.

        Only arrays and JSON go in (no pickle), so ``from_bytes`` reads it as data. A pending evaluation is not
        kept: it is simply planned again after loading; nor are segments in flight: their groups are planned
        again from the lane tables they started from.
        """
        lr = self.learner
        arrays, learner_meta = lr.state_arrays()
        meta = {
            "format": "robotrain-run", "format_version": 1, "config": self.config.to_dict(),
            "updates": lr.updates, "adam_t": lr.optimizer.t, "rng": lr.rng.bit_generator.state,
            "next_episode_id": self.next_episode_id, "env_steps": self.env_steps,
            "next_eval_at": self.next_eval_at if self.pending_eval_step is None else self.pending_eval_step,
            "duplicates_dropped": self.duplicates_dropped, "last_loss": lr.last_loss,
            "episodes_ingested": self.episodes_ingested, **learner_meta,
        }
        if self.config.algorithm == "pqn":
            meta["next_segment_id"] = self.next_segment_id
            arrays.update(lane_groups=np.stack(self.groups),
                          segments_ingested=np.frombuffer(bytes(self.segments_ingested), dtype=np.uint8))
        out = io.BytesIO()
        np.savez(out, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                 q=lr.q.params, adam_m=lr.optimizer.m, adam_v=lr.optimizer.v,
                 ingested=np.frombuffer(bytes(self.ingested), dtype=np.uint8),
                 episodes=np.array(self.episodes, dtype=np.float64).reshape(-1, 3),
                 evals=np.array(self.evals, dtype=np.float64).reshape(-1, 2),
                 staleness=np.array(self.staleness, dtype=np.int64), **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data) -> "Run":
        """Restore a run saved by ``to_bytes``; ``ValueError`` names what is wrong with a bad file."""
        try:
            z = np.load(io.BytesIO(bytes(data)), allow_pickle=False)
            meta = json.loads(z["meta"].tobytes().decode())
        except Exception as e:  # zip, npy and JSON errors all mean one thing here: not a saved run
            raise ValueError(f"not a saved robotrain run: {e}") from None
        if meta.get("format") != "robotrain-run" or meta.get("format_version") != 1:
            raise ValueError("not a saved robotrain run (format or version differs)")
        run = cls(Config.from_dict(meta["config"]))
        lr = run.learner
        try:
            lr.q.set_params(z["q"])
            for name, arr in (("adam_m", lr.optimizer.m), ("adam_v", lr.optimizer.v)):
                if z[name].shape != arr.shape:
                    raise ValueError(f"{name} has shape {z[name].shape}, expected {arr.shape}")
                arr[:] = z[name]
            lr.load_state_arrays(z, meta)
            lr.updates, lr.optimizer.t, lr.last_loss = meta["updates"], meta["adam_t"], meta["last_loss"]
            lr.rng.bit_generator.state = meta["rng"]
            run.ingested = bytearray(z["ingested"].tobytes())
            if len(run.ingested) != meta["next_episode_id"]:
                raise ValueError("episode bookkeeping does not match next_episode_id")
            run.next_episode_id, run.env_steps = meta["next_episode_id"], meta["env_steps"]
            run.next_eval_at, run.duplicates_dropped = meta["next_eval_at"], meta["duplicates_dropped"]
            run.episodes.extend((int(e), float(r), int(n)) for e, r, n in z["episodes"].tolist())
            # Files saved before rows were dropped hold every row, so their row count is the ingest count.
            run.episodes_ingested = int(meta.get("episodes_ingested", len(z["episodes"])))
            run.evals = [(int(s), float(r)) for s, r in z["evals"].tolist()]
            run.staleness.extend(int(x) for x in z["staleness"].tolist())
            if run.config.algorithm == "pqn":
                groups = z["lane_groups"]
                if groups.shape != (len(run.groups), *run.groups[0].shape) or not np.all(np.isfinite(groups)):
                    raise ValueError("saved lane groups do not fit the config")
                run.groups = [np.array(g, dtype=np.float32) for g in groups]
                run.segments_ingested = bytearray(z["segments_ingested"].tobytes())
                run.next_segment_id = int(meta["next_segment_id"])
                if len(run.segments_ingested) != run.next_segment_id:
                    raise ValueError("segment bookkeeping does not match next_segment_id")
        except (KeyError, TypeError) as e:
            raise ValueError(f"saved run is missing or has a malformed field: {e}") from None
        return run
