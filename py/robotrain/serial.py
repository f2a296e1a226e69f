"""The serial host: one actor and the learner in this process, executing ``robotrain.schedule``'s commands.

    run = train_serial(Config.for_env("cartpole", seed=0))             # sync (the default)
    run = train_serial(Config.for_env("cartpole", seed=0), mode="async")

In sync mode a task is played when its ``play`` command comes and its result waits for ``ingest``; in async
mode the actor plays ``ASYNC_DEPTH`` tasks at a time, as one Ray actor or one worker of the page would.
"""

from collections import deque

import numpy as np

from .actor import Actor
from .config import Config
from .evaluation import evaluator, stayed_solved
from .run import Run
from .schedule import Schedule

ASYNC_DEPTH = 2  # async: tasks the one actor holds at a time (as each Ray actor and each page worker)
TRACE_COMMANDS = 100_000  # commands kept in ``trace`` (a long run's first ones are dropped)


class SerialHost:
    """Carries out a ``Schedule``'s commands with one training ``Actor`` and one evaluation ``Actor``."""

    def __init__(self, run: Run, mode: str = "sync"):
        c = run.config
        self.run = run
        self.schedule = Schedule(run, mode)
        self.actor = Actor(c.env_id, c.seed, c.lanes, c.hidden_sizes, c.layer_norm)
        self.evaluator = evaluator(c.env_id, c.seed, c.eval_episodes, c.hidden_sizes, c.layer_norm)
        self.published = run.weights_packed()
        self.actor.set_weights(self.published)
        self.results = []  # results played and not yet ingested, in play order
        self.evaluations = []  # evaluation results not yet ingested
        self.trace = deque(maxlen=TRACE_COMMANDS)  # the newest commands carried out, in order

    def execute(self, command: dict) -> None:
        self.trace.append(command)
        op, run = command["op"], self.run
        if op == "play":
            for task in command["tasks"]:
                self.results.append(self.actor.run_task(task))
        elif op == "learn":
            run.learn(command["updates"])
        elif op == "ingest":
            for packed in self.results:
                run.ingest(packed)
            self.results.clear()
            self._ingest_evaluations()
        elif op == "await_evaluation":
            self._ingest_evaluations()
        elif op == "publish":
            self.published = run.weights_packed()
            self.actor.set_weights(self.published)
        elif op == "evaluate":
            task = command["task"]
            if self.evaluator.policy_version != command["version"]:
                self.evaluator.set_weights(self.published)
            packed = self.evaluator.run_task(task)
            if self.schedule.mode == "sync":
                run.ingest_eval(packed)
            else:
                self.evaluations.append(packed)
        else:
            raise ValueError(f"unknown command {op!r}")

    def _ingest_evaluations(self) -> None:
        for packed in self.evaluations:
            self.run.ingest_eval(packed)
        self.evaluations.clear()

    def execute_all(self, commands) -> None:
        for command in commands:
            self.execute(command)

    def sync_batch(self) -> None:
        self.execute_all(self.schedule.sync_batch())

    def async_step(self, feed: bool = True) -> None:
        free = ASYNC_DEPTH - len(self.results) if feed else 0
        self.execute_all(self.schedule.async_step(free, None, 0.0, feed=feed))

    def drain(self) -> None:
        while self.results or self.evaluations:
            self.async_step(feed=False)
        self.execute_all(self.schedule.finish())


def train_serial(config: Config, progress=None, stop_when_stable: bool = False, max_steps: int | None = None,
                 init_params: np.ndarray | None = None, mode: str = "sync") -> Run:
    """Train ``config`` in this process for ``max_steps`` env steps (default: its ``total_timesteps``).

    ``progress(run)`` is called after every batch (async: every step). Running past ``total_timesteps`` keeps
    the end values of the epsilon and learning-rate schedules, which is how one checks that a solved policy
    stays solved. ``run.trace`` holds the commands carried out.
    """
    max_steps = config.total_timesteps if max_steps is None else max_steps
    run = Run(config)
    if init_params is not None:
        run.learner.load_params(init_params)
    host = SerialHost(run, mode)
    step = host.sync_batch if mode == "sync" else host.async_step
    while run.env_steps < max_steps:
        step()
        if progress:
            progress(run)
        if stop_when_stable and stayed_solved(run) is not None:
            break
    if mode == "async":
        host.drain()
    run.trace = list(host.trace)
    return run
