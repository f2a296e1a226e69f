"""Train on Ray: N Ray actors play whole episodes with the same ``Actor`` code, the learner stays in this process.

    python -m robotrain.train --backend ray --actors 2 [--address auto | ray://host:10001] [--mode sync|async]
    python -m robotrain.cluster.bench --json ray_bench.json      # throughput benchmark (not a test)

The shape is Ape-X's: every Ray actor (``RolloutWorker``) holds a ``robotrain.actor.Actor`` (K vector lanes)
and plays tasks ("episodes first_id .. stop_id - 1 at this epsilon"), returning one packed float32 trajectory
buffer (``robotrain.codec``) through Ray's object store; the driver holds the ``robotrain.run.Run`` and
carries out ``robotrain.schedule``'s commands, as the command line and the page do. Weights are published by
version: ``ray.put`` once per published version, tasks carry the ObjectRef and the version, and a worker
fetches the weights only when the version changes. Numpy buffers in Ray's object store are read without a copy
on the node that holds them; the replay buffer copies the rows once, as it does everywhere else.

sync   Idle actors pull the batch's tasks while the learner runs its updates in slices of
       ``SYNC_LEARN_SLICE``; the results are ingested in episode-id order. The curve for a seed does not depend
       on the number of actors and equals ``train_serial``'s on the same platform. Parallelism per batch is
       ``batch_episodes / episodes_per_task``.
async  Every actor holds ``ASYNC_DEPTH`` tasks; results are ingested as they arrive and the learner trains in
       slices of about ``LEARN_SLICE_S`` between arrivals. At the end every task in flight is still ingested.

With ``algorithm="pqn"`` a task is a segment of a lane group instead (``robotrain.run``); everything here is
the same, segment ids taking the place of episode ids.

A dead actor (``RayActorError``: killed, crashed, node lost) is replaced by a new one and its unfinished tasks
run again on whichever actor is free; ``Run.ingest`` takes each episode id once (late duplicates are dropped
and counted). The run reports ``lost`` (issued ids never ingested; 0 because the end of a run drains every
task in flight), ``duplicates_dropped``, restarts, re-run tasks and staleness in ``run.backend_stats``.
"""

import logging
import os
import platform
import sys
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import ray
from ray.exceptions import ObjectLostError, RayActorError

from ..actor import Actor
from ..config import Config
from ..evaluation import MAX_EVAL_LANES, stayed_solved
from ..run import Run
from ..schedule import MODES, Schedule

ASYNC_DEPTH = 2  # async mode: tasks in flight per actor
SYNC_DEPTH = 1  # sync mode: an actor takes its next task of the batch when it is idle
SYNC_LEARN_SLICE = 50  # sync mode: updates between polls for finished tasks while the actors play a batch
LEARN_SLICE_S = 0.01  # async: length of one learning slice between polls for arrived results
ARRIVAL_WAIT_S = 0.05  # async: longest wait for a result when there is nothing to learn
PROGRESS_EVERY_S = 0.25  # async: progress(run) at most this often
MAX_RESTARTS_PER_ACTOR = 10  # more restarts than this per actor slot means something is wrong: stop the run
MAX_TASK_ATTEMPTS = 5  # a task whose actor died this many times is not tried again (it may be what kills them)
TRACE_COMMANDS = 100_000  # commands kept in ``trace`` (a long run's first ones are dropped)


class RolloutWorker:
    """One Ray actor: a training ``Actor`` (``lanes`` lanes) and an evaluation ``Actor``, weights by version."""

    def __init__(self, env_id: str, run_seed: int, lanes: int, hidden_sizes, eval_lanes: int, layer_norm: bool = False):
        self.actors = {"train": Actor(env_id, run_seed, lanes, hidden_sizes, layer_norm)}
        self.spec = (env_id, run_seed, eval_lanes, tuple(hidden_sizes), layer_norm)
        self.fetches = 0

    def _actor(self, role: str) -> Actor:
        if role not in self.actors:
            env_id, run_seed, eval_lanes, hidden, layer_norm = self.spec
            self.actors[role] = Actor(env_id, run_seed, eval_lanes, hidden, layer_norm)
        return self.actors[role]

    def run(self, weights: list, version: int, task: dict) -> np.ndarray:
        """Play one task with the weights of ``version`` (``weights`` is ``[ObjectRef]``, fetched only if new)."""
        actor = self._actor(task["role"])
        if actor.policy_version != version:
            actor.set_weights(ray.get(weights[0]))
            self.fetches += 1
        return actor.run_task(task)

    def info(self) -> dict:
        return {"pid": os.getpid(), "node": platform.node(), "weight_fetches": self.fetches,
                "cpu_s": time.process_time()}


@dataclass
class _Slot:
    """One actor position; ``generation`` grows each time its Ray actor is replaced."""

    index: int
    handle: object
    generation: int = 0
    busy: int = 0  # tasks of the current generation in flight
    restarts: int = 0
    ready: bool = False  # has returned a result (a starting actor takes one task until then)
    tasks: int = 0  # tasks submitted to this slot, all generations


@dataclass
class _Job:
    task: dict  # the planned task (episodes or a segment) and its role: "train" or "eval"
    weights: tuple  # (version, ObjectRef)
    slot: int = -1
    generation: int = -1
    attempts: int = 0


@dataclass
class _Counters:
    restarts: int = 0
    rerun_tasks: int = 0
    tasks: int = 0
    results: int = 0  # task results received
    weight_puts: int = 0
    rollout_s: float = 0.0  # sync: wall time spent waiting for batches and evaluations
    learn_s: float = 0.0
    ingest_s: float = 0.0
    max_backlog: int = 0
    events: list = field(default_factory=list)  # (wall s, what) for failures


def init_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to Ray (``address``) or start a local Ray; returns True if this call started/connected it.

    A local Ray gets ``num_cpus`` CPUs (default: this machine's). With an ``address`` the robotrain package is
    shipped to the cluster as a ``py_modules`` runtime environment, so the nodes need only numpy and Ray.
    """
    if ray.is_initialized():
        return False
    common = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:
        # "local": always a new private instance, even if a cluster was started on this machine (ray start).
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), **common)
    else:
        package_dir = os.path.dirname(os.path.abspath(__file__))
        ray.init(address=address, runtime_env={"py_modules": [package_dir]}, **common)
    return True


class RayTrainer:
    """The driver: one ``Run`` (learner and schedule) and ``actors`` Ray actors. ``train_ray`` wraps it."""

    def __init__(self, config: Config, actors: int = 2, mode: str = "sync", init_params: np.ndarray | None = None,
                 learn: bool = True, actor_options: dict | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be 'sync' or 'async', got {mode!r}")
        if isinstance(actors, bool) or not isinstance(actors, int) or actors < 1:
            raise ValueError(f"actors must be a positive integer, got {actors!r}")
        self.config, self.mode, self.n_actors, self.learn_enabled = config, mode, actors, learn
        self.run = Run(config)
        if init_params is not None:
            self.run.learner.load_params(init_params)
        self._remote = ray.remote(RolloutWorker).options(num_cpus=1, max_restarts=0, max_task_retries=0,
                                                         **(actor_options or {}))
        self.c = _Counters()
        self.t0 = time.monotonic()
        self.slots = [_Slot(i, self._new_actor()) for i in range(actors)]
        self.inflight: dict = {}  # ObjectRef -> _Job
        self.queue: deque = deque()  # jobs waiting for an actor; re-runs and evaluations go first
        self._refs: dict = {}  # policy version -> ObjectRef of its packed weights (current ones only)
        self.schedule = Schedule(self.run, mode)
        self.per_update = 2e-3  # s per learner update, measured as we go (async slices and backlog)
        self.published = self._put(self.run.policy_version)
        self.batch: list = []  # sync: the jobs of the batch being played, in episode-id order
        self.finished: dict = {}  # sync: id(job) -> packed result of the batch's finished jobs
        self.trace: deque = deque(maxlen=TRACE_COMMANDS)  # the newest commands carried out, in order

    # ---- actors, weights, dispatch and collection --------------------------------------------------

    def _new_actor(self):
        c = self.config
        return self._remote.remote(c.env_id, c.seed, c.lanes, c.hidden_sizes, min(c.eval_episodes, MAX_EVAL_LANES),
                                   c.layer_norm)

    def wait_ready(self) -> list:
        """Block until every actor has started; returns their ``info()``."""
        infos = ray.get([s.handle.info.remote() for s in self.slots])
        for slot in self.slots:
            slot.ready = True
        return infos

    @property
    def handles(self) -> list:
        """The live Ray actor handles (tests kill them with ``ray.kill``)."""
        return [s.handle for s in self.slots]

    def _put(self, version: int) -> tuple:
        """The (version, ObjectRef) of the learner's current weights; ``ray.put`` once per version."""
        if version != self.run.policy_version:
            raise AssertionError("only the current weights can be put")
        if version not in self._refs:
            self._refs[version] = ray.put(self.run.weights_packed())
            self.c.weight_puts += 1
        return version, self._refs[version]

    def _publish(self) -> None:
        self.published = self._put(self.run.policy_version)
        # Running tasks hold their own reference to older weights (Ray counts nested refs), so drop ours.
        for v in [v for v in self._refs if v != self.published[0]]:
            del self._refs[v]

    def _submit(self, job: _Job, slot: _Slot) -> None:
        version, ref = job.weights
        job.slot, job.generation, job.attempts = slot.index, slot.generation, job.attempts + 1
        out = slot.handle.run.remote([ref], version, job.task)
        self.inflight[out] = job
        slot.busy += 1
        slot.tasks += 1
        self.c.tasks += 1

    def _dispatch(self, depth: int) -> None:
        """Give queued jobs to actors with room.

        Least busy first, actors that have already returned a result before ones still starting (a replacement
        actor takes seconds to start: it gets one task, the others go to actors known to work).
        """
        while True:
            free = [s for s in self.slots if s.busy < (depth if s.ready else 1)]
            if not free:
                return
            if not self.queue:
                return
            slot = min(free, key=lambda s: (not s.ready, s.busy, s.index))
            self._submit(self.queue.popleft(), slot)

    def _collect(self, timeout: float | None) -> list:
        """Wait up to ``timeout`` s (None: until one is ready) and return [(job, packed)] of finished tasks.

        A task whose actor died goes back to the front of the queue and the actor is replaced.
        """
        if not self.inflight:
            return []
        refs = list(self.inflight)
        ready, rest = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        done = []
        for ref in ready:
            job = self.inflight.pop(ref)
            slot = self.slots[job.slot]
            current = slot.generation == job.generation
            if current:
                slot.busy -= 1
            try:
                done.append((job, ray.get(ref)))
                slot.ready = slot.ready or current
                self.c.results += 1
            except (RayActorError, ObjectLostError) as e:
                # The actor died (or the node holding the result did): the task runs again elsewhere.
                if isinstance(e, RayActorError):
                    self._replace(slot, job.generation, e)
                if job.attempts >= MAX_TASK_ATTEMPTS:
                    raise RuntimeError(f"task {job.task} failed {job.attempts} times; last error: {e}") from e
                self.queue.appendleft(job)
                self.c.rerun_tasks += 1
        return done

    def _replace(self, slot: _Slot, generation: int, error: Exception) -> None:
        """Start a new Ray actor for ``slot`` unless that already happened for this generation."""
        if slot.generation != generation:
            return
        slot.restarts += 1
        self.c.restarts += 1
        self.c.events.append((round(time.monotonic() - self.t0, 3), f"actor {slot.index} died "
                              f"({type(error).__name__}); restart {slot.restarts}"))
        if slot.restarts > MAX_RESTARTS_PER_ACTOR:
            raise RuntimeError(f"Ray actor {slot.index} died {slot.restarts} times; last error: {error}") from error
        try:
            ray.kill(slot.handle, no_restart=True)
        except Exception:  # already gone
            pass
        slot.handle = self._new_actor()
        slot.generation += 1
        slot.busy, slot.ready = 0, False

    def _ingest(self, packed: np.ndarray) -> None:
        t = time.monotonic()
        self.run.ingest(packed)
        self.c.ingest_s += time.monotonic() - t

    def _learn(self, n: int) -> int:
        if not self.learn_enabled or n <= 0:
            return 0
        t = time.monotonic()
        done = self.run.learn(n)
        self.c.learn_s += time.monotonic() - t
        return done

    # ---- the two modes --------------------------------------------------------------------------------

    def train(self, max_steps: int | None = None, progress=None, stop=None) -> Run:
        """Train until ``max_steps`` env steps (default ``total_timesteps``) or ``stop(run)`` is true."""
        max_steps = self.config.total_timesteps if max_steps is None else int(max_steps)
        self.t0 = time.monotonic()
        try:
            if self.mode == "sync":
                self._train_sync(max_steps, progress, stop)
            else:
                self._train_async(max_steps, progress, stop)
        finally:
            self.wall_s = time.monotonic() - self.t0
            self.run.backend_stats = self.stats()
            self.run.trace = list(self.trace)
        return self.run

    def _free(self, depth: int) -> int:
        """Tasks the actors can take now beyond the queued ones (a starting actor takes one)."""
        room = sum(max(0, (depth if s.ready else 1) - s.busy) for s in self.slots)
        return max(0, room - len(self.queue))

    def _execute(self, command: dict) -> None:
        """Carry out one of the schedule's commands (``robotrain.schedule`` says what each one means)."""
        self.trace.append(command)
        op, run, sync = command["op"], self.run, self.mode == "sync"
        depth = SYNC_DEPTH if sync else ASYNC_DEPTH
        if op == "play":
            jobs = [_Job({**task, "role": "train"}, self.published) for task in command["tasks"]]
            if sync:
                self.batch, self.finished = jobs, {}
            self.queue.extend(jobs)
            self._dispatch(depth)
        elif op == "learn":
            if sync:  # in slices, taking finished tasks and handing out the next ones in between
                left = command["updates"]
                while left > 0:
                    done = self._learn(min(left, SYNC_LEARN_SLICE))
                    if done == 0:
                        break
                    left -= done
                    self._take(self._collect(0))
                    self._dispatch(depth)
            else:
                t = time.monotonic()
                n = self._learn(command["updates"])
                if n:
                    self.per_update = 0.9 * self.per_update + 0.1 * (time.monotonic() - t) / n
        elif op == "ingest":
            if sync:
                t = time.monotonic()
                while len(self.finished) < len(self.batch):
                    self._dispatch(depth)
                    self._take(self._collect(None))
                self.c.rollout_s += time.monotonic() - t
                for job in self.batch:
                    self._ingest(self.finished.pop(id(job)))
                self.batch = []
            else:
                learning = self.learn_enabled and run.updates_due > 0
                self._take(self._collect(0 if learning else ARRIVAL_WAIT_S))
                self._dispatch(depth)
        elif op == "publish":
            self._publish()
        elif op == "evaluate":
            if self.published[0] != command["version"]:
                raise AssertionError(f"evaluation of version {command['version']}, published {self.published[0]}")
            job = _Job({**command["task"], "role": "eval"}, self.published)
            self.queue.appendleft(job)
            self._dispatch(depth)
        elif op == "await_evaluation":
            self._await_evaluation()
        else:
            raise ValueError(f"unknown command {op!r}")

    def _take(self, done: list) -> None:
        """Finished tasks: an evaluation is ingested now; sync keeps training tasks for the batch's ingest,
        async ingests them now."""
        for job, packed in done:
            if job.task["role"] == "eval":
                self.run.ingest_eval(packed)
            elif self.mode == "sync":
                self.finished[id(job)] = packed
            else:
                self._ingest(packed)

    def _await_evaluation(self) -> None:
        """Sync: wait until the evaluation in flight (it plays beside the batches after it) is ingested."""
        t = time.monotonic()
        while self.run.pending_eval_step is not None:
            if not self.inflight and not self.queue:
                raise AssertionError("an evaluation is pending but no task plays it")
            self._dispatch(SYNC_DEPTH)
            self._take(self._collect(None))
        self.c.rollout_s += time.monotonic() - t

    def _train_sync(self, max_steps: int, progress, stop) -> None:
        run = self.run
        while run.env_steps < max_steps:
            for command in self.schedule.sync_batch(self.config.episodes_per_task):
                self._execute(command)
            if progress:
                progress(run)
            if stop is not None and stop(run):
                break
        self._await_evaluation()  # the run's last one

    def _train_async(self, max_steps: int, progress, stop) -> None:
        run, c = self.run, self.c
        last_progress, feeding = 0.0, True
        while True:
            if feeding and (run.env_steps >= max_steps or (stop is not None and stop(run))):
                feeding = False  # drain: every issued episode is still ingested
            if not feeding and not self.inflight and not self.queue:
                break
            c.max_backlog = max(c.max_backlog, run.updates_due)
            # With learning off (the benchmark) the learner is never behind: no backlog holds the actors back.
            per_update = self.per_update if self.learn_enabled else 0.0
            step = self.schedule.async_step(self._free(ASYNC_DEPTH) if feeding else 0, self.config.episodes_per_task,
                                            per_update, max(1, int(LEARN_SLICE_S / self.per_update)), feed=feeding)
            for command in step:
                self._execute(command)
            now = time.monotonic()
            if progress and now - last_progress >= PROGRESS_EVERY_S:
                progress(run)
                last_progress = now
        if run.pending_eval_step is not None:
            raise AssertionError("evaluation still pending after the drain")
        for command in self.schedule.finish():
            self._execute(command)
        if progress:
            progress(run)

    # ---- reporting ------------------------------------------------------------------------------------

    def lost(self) -> int:
        """Issued training episode ids (pqn: segments) that were never ingested."""
        run = self.run
        if run.config.algorithm == "pqn":
            return run.next_segment_id - int(np.count_nonzero(np.frombuffer(run.segments_ingested, dtype=np.uint8)))
        issued = run.next_episode_id
        return issued - int(np.frombuffer(run.ingested, dtype=np.uint8)[:issued].sum())

    def stats(self) -> dict:
        run, c = self.run, self.c
        wall = max(getattr(self, "wall_s", time.monotonic() - self.t0), 1e-9)
        stale = np.asarray(run.staleness, dtype=np.float64)
        return {
            "backend": "ray", "mode": self.mode, "actors": self.n_actors, "ray_version": ray.__version__,
            "issued_episodes": run.next_episode_id, "ingested_episodes": run.episodes_ingested, "lost": self.lost(),
            "duplicates_dropped": run.duplicates_dropped, "actor_restarts": c.restarts, "rerun_tasks": c.rerun_tasks,
            "tasks": c.tasks, "tasks_per_actor": [s.tasks for s in self.slots], "weight_puts": c.weight_puts,
            "mean_staleness": float(stale.mean()) if len(stale) else 0.0,
            "max_staleness": int(stale.max()) if len(stale) else 0,
            "env_steps_per_s": round(run.env_steps / wall, 1), "updates_per_s": round(run.learner.updates / wall, 1),
            "learn_s": round(c.learn_s, 3), "ingest_s": round(c.ingest_s, 3), "rollout_wait_s": round(c.rollout_s, 3),
            "max_update_backlog": c.max_backlog, "failures": [list(e) for e in c.events],
        }

    def close(self) -> None:
        """Kill this trainer's Ray actors (their unfinished tasks are abandoned)."""
        self.inflight.clear()
        for slot in self.slots:
            try:
                ray.kill(slot.handle, no_restart=True)
            except Exception:  # already gone
                pass


def train_ray(config: Config, actors: int = 2, address: str | None = None, mode: str = "sync", progress=None,
              stop_when_stable: bool = False, max_steps: int | None = None, init_params: np.ndarray | None = None,
              stop=None, num_cpus: int | None = None) -> Run:
    """Train ``config`` with ``actors`` Ray actors; returns the ``Run`` (its learner holds the trained weights).

    ``address`` None starts a local Ray with ``num_cpus`` (default max(actors, CPU count)) CPUs and shuts it
    down at the end; otherwise it connects to that cluster ("auto", "ray://host:10001"). An already initialized
    Ray is used as it is. ``stop(run)`` can end the run early (checked after each batch or evaluation);
    ``stop_when_stable`` stops once it is known whether the first solved evaluation stayed solved, as
    ``train_serial`` does. ``run.backend_stats`` holds the Ray figures (lost, duplicates, restarts, staleness).
    """
    started = init_ray(address, num_cpus or max(actors, os.cpu_count() or 1))
    trainer = None
    try:
        if address is not None:
            cpus = ray.cluster_resources().get("CPU", 0)
            if cpus < actors:
                print(f"warning: the cluster has {cpus:g} CPUs for {actors} actors; some will wait for a CPU",
                      file=sys.stderr)
        user_stop = stop

        def should_stop(run):
            if stop_when_stable and stayed_solved(run) is not None:
                return True
            return bool(user_stop and user_stop(run))

        trainer = RayTrainer(config, actors=actors, mode=mode, init_params=init_params)
        return trainer.train(max_steps, progress, should_stop)
    finally:
        if trainer is not None:
            trainer.close()
        if started:
            ray.shutdown()
