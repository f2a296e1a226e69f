"""Train on Ray: N Ray actors play whole episodes with the same ``Actor`` code, the learner stays in this process.

    python -m robotrain.train --backend ray --actors 2 [--address auto | ray://host:10001] [--mode sync|async]
    python -m robotrain.ray_backend --bench --json ray_bench.json      # throughput benchmark (not a test)

The shape is Ape-X's: every Ray actor (``RolloutWorker``) holds a ``robotrain.actor.Actor`` (K vector lanes)
and plays tasks ("episodes first_id .. stop_id - 1 at this epsilon"), returning one packed float32 trajectory
buffer (``robotrain.codec``) through Ray's object store; the driver runs the ``robotrain.run.Run`` schedule and
its ``Learner`` unchanged. Weights are published by version: ``ray.put`` once per published version, tasks
carry the ObjectRef and the version, and a worker fetches the weights only when the version changes. Numpy
buffers in Ray's object store are read without a copy on the node that holds them; the replay buffer copies
the rows once, as it does everywhere else.

sync   The serial trainer's schedule (``train.sync_batch``): ``plan_tasks()`` for a batch, idle actors pull
       the next task while the learner runs the updates earned by the batches before it, then all results are
       ingested in episode-id order, evaluation when due, publish every ``publish_every`` batches. The curve for a seed does not depend on the number of actors and equals
       ``train_serial``'s on the same platform. Parallelism per batch is ``batch_episodes / episodes_per_task``.
async  Ape-X: every actor keeps ``ASYNC_DEPTH`` tasks in flight; results are ingested as they arrive and the
       learner trains continuously in slices between arrivals (never more updates than the schedule has
       earned), publishing every ``publish_every`` updates (at most every ``ASYNC_MIN_PUBLISH_INTERVAL_S``).
       Actors are not fed while the learner is more than ``ASYNC_MAX_BACKLOG_S`` of updates behind, as in the page.

A dead actor (``RayActorError``: killed, crashed, node lost) is replaced by a new one and its unfinished tasks
run again on whichever actor is free; ``Run.ingest`` takes each episode id once (late duplicates are dropped
and counted). The run reports ``lost`` (issued ids never ingested; 0 because the end of a run drains every
task in flight), ``duplicates_dropped``, restarts, re-run tasks and staleness in ``run.backend_stats``.
"""

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import ray
from ray.exceptions import ObjectLostError, RayActorError

from . import codec, modelfile
from .actor import Actor
from .config import Config
from .run import Run
from .train import stayed_solved

ASYNC_DEPTH = 2  # async mode: tasks in flight per actor
SYNC_DEPTH = 1  # sync mode: an actor takes its next task of the batch when it is idle
SYNC_LEARN_SLICE = 50  # sync mode: updates between polls for finished tasks while the actors play a batch
# Async: stop feeding actors while the learner is this many seconds of updates behind, or ASYNC_MIN_BACKLOG_UPDATES,
# whichever is more (the page's rule; the page allows 2 s, but this learner does ~3,800 updates/s, so 2 s would be
# 7,600 updates, a third of a cartpole run: measured over seeds 0, 1, 2, 4, 2 s solved 2 of 4 runs, 0.5 s 3 of 4).
ASYNC_MAX_BACKLOG_S = 0.5
ASYNC_MIN_BACKLOG_UPDATES = 500
ASYNC_MIN_PUBLISH_INTERVAL_S = 0.05  # async: publish at most this often
LEARN_SLICE_S = 0.01  # async: length of one learning slice between polls for arrived results
PROGRESS_EVERY_S = 0.25  # async: progress(run) at most this often
MAX_RESTARTS_PER_ACTOR = 10  # more restarts than this per actor slot means something is wrong: stop the run
MAX_TASK_ATTEMPTS = 5  # a task whose actor died this many times is not tried again (it may be what kills them)
MAX_EVAL_LANES = 64  # the evaluator's lanes, as in train_serial


class RolloutWorker:
    """One Ray actor: a training ``Actor`` (``lanes`` lanes) and an evaluation ``Actor``, weights by version."""

    def __init__(self, env_id: str, run_seed: int, lanes: int, hidden_sizes, eval_lanes: int):
        self.actors = {"train": Actor(env_id, run_seed, lanes, hidden_sizes)}
        self.spec = (env_id, run_seed, eval_lanes, tuple(hidden_sizes))
        self.fetches = 0

    def _actor(self, kind: str) -> Actor:
        if kind not in self.actors:
            env_id, run_seed, eval_lanes, hidden = self.spec
            self.actors[kind] = Actor(env_id, run_seed, eval_lanes, hidden)
        return self.actors[kind]

    def run(self, weights: list, version: int, task: dict) -> np.ndarray:
        """Play one task with the weights of ``version`` (``weights`` is ``[ObjectRef]``, fetched only if new)."""
        actor = self._actor(task["kind"])
        if actor.policy_version != version:
            actor.set_weights(ray.get(weights[0]))
            self.fetches += 1
        return actor.run(task["first_id"], task["stop_id"], task["epsilon"], task["stream"])

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
    task: dict  # first_id, stop_id, epsilon, stream, kind (+ policy_version from the plan)
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
        if mode not in ("sync", "async"):
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
        self.published = self._put(self.run.policy_version)
        self.last_publish = time.monotonic()

    # ---- actors, weights, dispatch and collection --------------------------------------------------

    def _new_actor(self):
        c = self.config
        return self._remote.remote(c.env_id, c.seed, c.lanes, c.hidden_sizes, min(c.eval_episodes, MAX_EVAL_LANES))

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
        self.last_publish = time.monotonic()
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

    def _dispatch(self, depth: int, plan=None) -> None:
        """Give queued jobs (then, if ``plan`` is given, newly planned ones) to actors with room.

        Least busy first, actors that have already returned a result before ones still starting (a replacement
        actor takes seconds to start: it gets one task, the others go to actors known to work).
        """
        while True:
            free = [s for s in self.slots if s.busy < (depth if s.ready else 1)]
            if not free:
                return
            slot = min(free, key=lambda s: (not s.ready, s.busy, s.index))
            if self.queue:
                job = self.queue.popleft()
            elif plan is not None:
                job = plan()
                if job is None:
                    return
            else:
                return
            self._submit(job, slot)

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

    def _train_job(self, task: dict) -> _Job:
        return _Job({**task, "kind": "train"}, self.published)

    def _eval_job(self) -> _Job:
        """The due evaluation, with the learner's current weights (put once if they are not the published ones)."""
        task = self.run.plan_eval()
        return _Job({**task, "kind": "eval"}, self._put(self.run.policy_version))

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
        return self.run

    def _run_all(self, jobs: list, learn: int = 0) -> list:
        """Run ``jobs`` on the actors (idle actors pull the next one) while this process learns ``learn``
        updates in slices; return the results in ``jobs`` order once every job is done."""
        t = time.monotonic()
        self.queue.extend(jobs)
        results = {}
        self._dispatch(SYNC_DEPTH)
        learn_s = self.c.learn_s
        while learn > 0:
            done = self._learn(min(learn, SYNC_LEARN_SLICE))
            if done == 0:
                break
            learn -= done
            for job, packed in self._collect(0):
                results[id(job)] = packed
            self._dispatch(SYNC_DEPTH)
        while len(results) < len(jobs):
            self._dispatch(SYNC_DEPTH)
            for job, packed in self._collect(None):
                results[id(job)] = packed
        # Time the batch kept this process waiting for actors (the learning it overlapped is in learn_s).
        self.c.rollout_s += time.monotonic() - t - (self.c.learn_s - learn_s)
        return [results[id(job)] for job in jobs]

    def _train_sync(self, max_steps: int, progress, stop) -> None:
        run, batches = self.run, 0
        while run.env_steps < max_steps:
            # train.sync_batch's order: the actors play the batch with the published weights while the
            # learner runs the updates the earlier batches earned; then the batch is ingested in id order.
            jobs = [self._train_job(task) for task in run.plan_tasks()]  # in episode-id order
            due = run.updates_due if self.learn_enabled else 0
            for packed in self._run_all(jobs, learn=due):
                self._ingest(packed)
            batches += 1
            if batches % self.config.publish_every == 0:
                self._publish()
            if run.eval_due():
                run.ingest_eval(self._run_all([self._eval_job()])[0])
            if progress:
                progress(run)
            if stop is not None and stop(run):
                break

    def _train_async(self, max_steps: int, progress, stop) -> None:
        run, c = self.run, self.c
        per_update = 2e-3  # s per learner update, measured as we go
        since_publish, last_progress, eval_pending = 0, 0.0, False
        feeding = True

        def plan():
            due = run.updates_due
            c.max_backlog = max(c.max_backlog, due)
            if not feeding or (self.learn_enabled and due > max(ASYNC_MIN_BACKLOG_UPDATES, ASYNC_MAX_BACKLOG_S / per_update)):
                return None
            return self._train_job(run.plan_tasks(self.config.episodes_per_task)[0])

        while True:
            if feeding and (run.env_steps >= max_steps or (stop is not None and stop(run))):
                feeding = False  # drain: every issued episode is still ingested
            if not feeding and not self.inflight and not self.queue:
                break
            if feeding and not eval_pending and run.eval_due():
                self.queue.appendleft(self._eval_job())
                eval_pending = True
            self._dispatch(ASYNC_DEPTH, plan)
            due = run.updates_due if self.learn_enabled else 0
            for job, packed in self._collect(0 if due > 0 else 0.05):
                if job.task["kind"] == "eval":
                    run.ingest_eval(packed)
                    eval_pending = False
                else:
                    self._ingest(packed)
            due = run.updates_due if self.learn_enabled else 0
            if due > 0:
                t = time.monotonic()
                n = self._learn(max(1, min(due, int(LEARN_SLICE_S / per_update))))
                if n:
                    per_update = 0.9 * per_update + 0.1 * (time.monotonic() - t) / n
                since_publish += n
                if since_publish >= self.config.publish_every and \
                        time.monotonic() - self.last_publish >= ASYNC_MIN_PUBLISH_INTERVAL_S:
                    self._publish()
                    since_publish = 0
            now = time.monotonic()
            if progress and now - last_progress >= PROGRESS_EVERY_S:
                progress(run)
                last_progress = now
        if eval_pending:
            raise AssertionError("evaluation still pending after the drain")
        self._learn(run.updates_due)  # the updates the drained episodes earned
        if progress:
            progress(run)

    # ---- reporting ------------------------------------------------------------------------------------

    def lost(self) -> int:
        """Issued training episode ids that were never ingested."""
        issued = self.run.next_episode_id
        return issued - int(np.frombuffer(self.run.ingested, dtype=np.uint8)[:issued].sum())

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


# ---- benchmark ------------------------------------------------------------------------------------------

def _machine_cpu_s() -> float | None:
    """CPU seconds all processes of this machine have used so far (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields_ = f.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields_[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class _RolloutBench:
    """``actors`` actors playing tasks with fixed weights, learning off; ``window(s)`` measures s seconds of it.

    Each window also records the CPU seconds the actors, the driver and the whole machine used, so contention
    from other processes shows up (``other_cpu_s``) instead of hiding in the figure.
    """

    def __init__(self, env_id: str, actors: int, episodes_per_task: int, epsilon: float, params=None):
        cfg = Config.for_env(env_id, start_e=epsilon, end_e=epsilon, episodes_per_task=episodes_per_task,
                             buffer_size=200_000, total_timesteps=100_000_000, eval_interval=10_000_000)
        self.actors = actors
        self.trainer = RayTrainer(cfg, actors=actors, mode="async", learn=False, init_params=params)
        self.trainer.wait_ready()
        run = self.trainer.run
        while run.env_steps < 20_000 * actors:  # warm-up: every actor has played tasks
            self.trainer.train(max_steps=run.env_steps + 10_000)

    def _actor_cpu(self) -> float:
        return sum(i["cpu_s"] for i in ray.get([h.info.remote() for h in self.trainer.handles]))

    def window(self, seconds: float) -> dict:
        """``seconds`` of rollouts; counts what was ingested by the deadline (the drain after it is not timed)."""
        t, run = self.trainer, self.trainer.run
        s0, tasks0, a0, d0, m0 = run.env_steps, t.c.results, self._actor_cpu(), time.process_time(), _machine_cpu_s()
        t0 = time.monotonic()
        deadline, end = t0 + seconds, []

        def stop(r):
            if time.monotonic() < deadline:
                return False
            if not end:
                end.append((time.monotonic(), r.env_steps, t.c.results, self._actor_cpu(), time.process_time(),
                            _machine_cpu_s()))
            return True

        t.train(stop=stop, max_steps=10**12)
        t1, s1, tasks1, a1, d1, m1 = end[0]
        dt, steps, tasks = t1 - t0, s1 - s0, tasks1 - tasks0
        actor_cpu, driver_cpu = a1 - a0, d1 - d0
        out = {"actors": self.actors, "env_steps_per_s": round(steps / dt, 1), "seconds": round(dt, 2),
               "env_steps": steps, "tasks": tasks, "transitions_per_task": round(steps / max(tasks, 1), 1),
               "actor_cpu_s": round(actor_cpu, 2), "driver_cpu_s": round(driver_cpu, 2),
               "env_steps_per_actor_cpu_s": round(steps / max(actor_cpu, 1e-9), 1),
               "driver_cpu_ms_per_task": round(1000 * driver_cpu / max(tasks, 1), 3)}
        if m0 is not None and m1 is not None:
            # Everything else the machine ran meanwhile (Ray's own daemons use ~0.03 CPU s per s of this).
            out["other_cpu_s"] = round(max(0.0, (m1 - m0) - actor_cpu - driver_cpu), 2)
        return out

    def close(self):
        self.trainer.close()


def rollout_scaling(env_id: str, actor_counts, seconds: float, repeats: int, episodes_per_task: int,
                    epsilon: float, params=None) -> dict:
    """Interleaved windows (1, 2, 1, 2, ...) so load from other processes hits every actor count alike."""
    benches = {n: _RolloutBench(env_id, n, episodes_per_task, epsilon, params) for n in actor_counts}
    try:
        windows = {n: [] for n in actor_counts}
        for _ in range(repeats):
            for n in actor_counts:
                windows[n].append(benches[n].window(seconds))
    finally:
        for b in benches.values():
            b.close()
    out = {}
    for n, ws in windows.items():
        rates = sorted(w["env_steps_per_s"] for w in ws)
        out[str(n)] = {"env_steps_per_s": rates[len(rates) // 2], "windows": ws}
    return out


def _training_rate(env_id: str, actors: int, mode: str, steps: int, seed: int = 0) -> dict:
    cfg = Config.for_env(env_id, seed=seed)
    trainer = RayTrainer(cfg, actors=actors, mode=mode)
    try:
        trainer.wait_ready()  # actor start-up is not throughput
        trainer.train(max_steps=steps)
        s = trainer.stats()
        return {"actors": actors, "mode": mode, "env_steps": trainer.run.env_steps, "wall_s": round(trainer.wall_s, 2),
                **{k: s[k] for k in ("env_steps_per_s", "updates_per_s", "mean_staleness", "learn_s",
                                     "rollout_wait_s", "max_update_backlog")}}
    finally:
        trainer.close()


def _learner_limit(env_id: str, seconds: float = 3.0) -> dict:
    """What one driver sustains: learner updates/s and ingest transitions/s (codec unpack + replay add)."""
    cfg = Config.for_env(env_id, buffer_size=200_000)
    run = Run(cfg)
    actor = Actor(env_id, cfg.seed, cfg.lanes, cfg.hidden_sizes)
    actor.set_weights(run.weights_packed())
    template = codec.unpack_trajectories(actor.run(0, 64, 0.1))  # real episodes, re-labelled below
    table = template.episodes.astype(np.float64)
    n_eps, transitions = len(table), template.transitions

    def batch(first):
        t = table.copy()
        t[:, 0] = np.arange(first, first + n_eps)
        return codec.pack_trajectories(t, transitions, template.obs_dim, 0)

    # Ingest: batches of ~len(transitions) rows, ids issued as the schedule would.
    packed = []
    for _ in range(400):
        first = run.plan_tasks(n_eps)[0]["first_id"]
        packed.append(batch(first))
    rows, t0 = 0, time.perf_counter()
    for p in packed:
        run.ingest(p)
        rows += int(p[codec.H_TRANSITIONS])
        if time.perf_counter() - t0 > seconds:
            break
    ingest_rate = rows / (time.perf_counter() - t0)
    # Updates on the filled buffer.
    run.env_steps = max(run.env_steps, cfg.learning_starts + 10**7)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += run.learn(50)
    update_rate = n / (time.perf_counter() - t0)
    return {"updates_per_s": round(update_rate, 1), "ingest_transitions_per_s": round(ingest_rate, 1),
            "transitions_per_batch": len(transitions), "batch_size": cfg.batch_size,
            "train_frequency": cfg.train_frequency,
            "env_steps_per_s_at_schedule_ratio": round(update_rate * cfg.train_frequency, 1)}


def bench(env_id: str = "cartpole", actor_counts=(1, 2), seconds: float = 4.0, episodes_per_task: int = 64,
          epsilon: float = 0.1, train_steps: int = 20_000, address: str | None = None, model: str | None = None,
          repeats: int = 5, training: bool = True) -> dict:
    """Rollout throughput (learning off) and training throughput (sync and async) per actor count, and the
    learner's own limits. ``model`` (a model file) gives the rollouts trained weights (realistic episode
    lengths); without it they use the initial random network, as ``robotrain.bench`` does."""
    params = modelfile.load(model, expect_env=env_id)["params"] if model else None
    # The rollout measurement keeps every actor count's actors alive at once (idle ones use no CPU).
    started = init_ray(address, max(sum(actor_counts), os.cpu_count() or 1))
    out = {"env": env_id, "python": platform.python_version(), "numpy": np.__version__, "ray": ray.__version__,
           "machine": platform.machine(), "cpus": os.cpu_count(), "load_avg_at_start": list(os.getloadavg()),
           "rollout": {}, "training": {}, "episodes_per_task": episodes_per_task, "epsilon": epsilon,
           "rollout_weights": model or "initial random network"}
    try:
        out["rollout"] = rollout_scaling(env_id, actor_counts, seconds, repeats, episodes_per_task, epsilon, params)
        for n in actor_counts:
            r = out["rollout"][str(n)]
            w = r["windows"][len(r["windows"]) // 2]
            print(f"rollout  {n} actor(s): {r['env_steps_per_s']:>10,.0f} env steps/s, median of {repeats} windows "
                  f"(learning off; {w['env_steps_per_actor_cpu_s']:,.0f} per actor CPU s, driver "
                  f"{w['driver_cpu_ms_per_task']:.2f} ms CPU per task of {w['transitions_per_task']:,.0f} transitions, "
                  f"other processes {w.get('other_cpu_s', float('nan')):.1f} CPU s)", flush=True)
        lo, hi = str(min(actor_counts)), str(max(actor_counts))
        out["rollout_speedup"] = round(out["rollout"][hi]["env_steps_per_s"] / out["rollout"][lo]["env_steps_per_s"], 2)
        pairs = [b["env_steps_per_s"] / a["env_steps_per_s"]
                 for a, b in zip(out["rollout"][lo]["windows"], out["rollout"][hi]["windows"])]
        out["rollout_speedup_per_window_pair"] = [round(x, 2) for x in pairs]
        print(f"rollout  {hi} vs {lo} actors: {out['rollout_speedup']:.2f}x (medians; window pairs "
              f"{', '.join(f'{x:.2f}' for x in pairs)})", flush=True)
        for mode in ("sync", "async") if training else ():
            for n in actor_counts:
                r = _training_rate(env_id, n, mode, train_steps)
                out["training"][f"{mode}-{n}"] = r
                print(f"training {mode:>5} {n} actor(s): {r['env_steps_per_s']:>8,.0f} env steps/s, "
                      f"{r['updates_per_s']:,.0f} updates/s, staleness {r['mean_staleness']:.1f}", flush=True)
        out["learner"] = _learner_limit(env_id)
        lim = out["learner"]
        print(f"learner: {lim['updates_per_s']:,.0f} updates/s (= {lim['env_steps_per_s_at_schedule_ratio']:,.0f} "
              f"env steps/s at train_frequency {lim['train_frequency']}), ingest "
              f"{lim['ingest_transitions_per_s']:,.0f} transitions/s", flush=True)
        ws = out["rollout"][lo]["windows"]
        per_actor = statistics.median(w["env_steps_per_actor_cpu_s"] for w in ws)
        # The driver's CPU per task (receive + ingest) bounds how many tasks/s one driver can take at all.
        driver_steps_per_s = statistics.median(1000 * w["transitions_per_task"] / max(w["driver_cpu_ms_per_task"], 1e-6)
                                               for w in ws)
        out["actor_env_steps_per_core_s"] = per_actor
        out["actors_until_learner_saturates"] = {
            "at_schedule_ratio": round(lim["env_steps_per_s_at_schedule_ratio"] / per_actor, 2),
            "receive_and_ingest_only": round(min(lim["ingest_transitions_per_s"], driver_steps_per_s) / per_actor, 1),
        }
        sat = out["actors_until_learner_saturates"]
        print(f"one actor core: {per_actor:,.0f} env steps/s; one learner keeps up with ~{sat['at_schedule_ratio']} "
              f"actor cores at the schedule's replay ratio, ~{sat['receive_and_ingest_only']} receiving and ingesting "
              f"only", flush=True)
    finally:
        out["load_avg_at_end"] = list(os.getloadavg())
        if started:
            ray.shutdown()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m robotrain.ray_backend", description=__doc__.split("\n\n")[0])
    p.add_argument("--bench", action="store_true", help="measure rollout and training throughput on Ray")
    p.add_argument("--env", default="cartpole")
    p.add_argument("--actors", type=int, nargs="+", default=[1, 2], help="actor counts to measure")
    p.add_argument("--seconds", type=float, default=4.0, help="length of one timed rollout window")
    p.add_argument("--repeats", type=int, default=5, help="rollout windows per actor count (interleaved)")
    p.add_argument("--rollout-only", action="store_true", help="skip the training measurements")
    p.add_argument("--episodes-per-task", type=int, default=64)
    p.add_argument("--train-steps", type=int, default=20_000, help="env steps of each training measurement")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--model", metavar="FILE", help="rollouts use this model file's weights (default: random init)")
    p.add_argument("--json", metavar="FILE", help="write the results here")
    args = p.parse_args(argv)
    if not args.bench:
        p.error("nothing to do: use --bench (training runs through python -m robotrain.train --backend ray)")
    out = bench(args.env, tuple(args.actors), args.seconds, args.episodes_per_task, train_steps=args.train_steps,
                address=args.address, model=args.model,
                repeats=args.repeats, training=not args.rollout_only)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
