"""The training order, written once: every host (the command line, Ray, the page) executes these commands.

A host owns actors and moves buffers; ``Run`` (``robotrain.run``) owns the learner and the episode
bookkeeping; this module decides what happens next. A schedule is a generator of commands, JSON-safe dicts
the page reads as they are:

    {"op": "play", "tasks": [task, ...]}      start these tasks on the actors with the published weights
    {"op": "learn", "updates": n}             run up to n updates (``Run.learn``), in slices if the host likes,
                                              while the tasks in flight go on
    {"op": "ingest"}                          sync: wait for every task of the batch and ``Run.ingest`` the
                                              results in task (episode-id) order; async: ingest what has arrived
    {"op": "publish", "version": v}           send the learner's current weights (policy version v) to the actors
    {"op": "evaluate", "task": t, "version": v}   play the greedy task t with the published weights (version v)
                                              and ``Run.ingest_eval`` the result as soon as it arrives; sync
                                              mode's next ``await_evaluation`` takes it at the latest
    {"op": "await_evaluation"}                sync: wait for the evaluation in flight, if any, and
                                              ``Run.ingest_eval`` it (the next one is due; a host that drains
                                              does this at the end)

A host asks for the next command only after it has carried out the previous one (for ``play``: handed the
tasks to its actors; for ``evaluate`` in async mode: started it), so the schedule reads the state those
commands left behind. A task is a dict ``{first_id, stop_id, epsilon, stream, policy_version}``; how many
episodes a task holds never changes an episode (they depend only on the run seed, their id and the weights).
With ``algorithm="pqn"`` a task is a segment of a lane group (``Run.plan_segments``; ``Actor.run_task`` plays
either kind): a sync batch is the next segment of every group, and the same pipeline holds (the learner learns
from rollout k - 1 while the actors play rollout k with the weights published after rollout k - 2's updates).

Knobs, one meaning each:
- ``publish_every``: learner updates between two publications, at least. Sync publishes at the end of a
  batch once that many updates ran since the last publication; async after a learning slice, but not within
  ``ASYNC_MIN_PUBLISH_INTERVAL_S`` of the last publication.
- The evaluation always plays the *published* weights of the version its command names, on every host (the
  page's evaluation task carries a copy of them). Async mode publishes nothing while an evaluation is in
  flight, so a host whose actors hold only the newest weights still plays that version. An evaluation never
  changes training, so in sync mode it runs beside the batches that follow (the learner need not idle while an
  actor plays balancebot's 20 x 8,000 greedy steps) until the next one is due: then ``await_evaluation`` takes
  it first, so the evaluation points and returns are the same on every host.

Synchronous mode is a pipeline of batches of ``batch_episodes`` ids: batch k is played with the weights
published after batch k - 1 while the learner runs the updates that the batches before it earned; then batch k
is ingested in id order. The policy lags the data by one batch, the learner does not wait for the actors, and a
seed gives the same curve for any number of actors or lanes and on every host.

Asynchronous mode (Ape-X): actors never wait. Each step ingests what arrived, starts the due evaluation, tops
the actors up to the host's task capacity (unless the learner is ``ASYNC_MAX_BACKLOG_S`` of updates behind),
learns one slice and publishes when due. At the end of a run a host that drains (the command line, Ray) stops
feeding, takes every result still in flight, then learns what they earned (``finish``).
"""

import time

from .run import Run

# Async: no new tasks while the learner is this many seconds of its own updates behind the data (or
# ASYNC_MIN_BACKLOG_UPDATES, whichever is more); without a bound the replay ratio collapses when the actors
# outrun the learner. docs/tuning.md has the measurements behind 0.5 s.
ASYNC_MAX_BACKLOG_S = 0.5
ASYNC_MIN_BACKLOG_UPDATES = 500
# Async: publish at most this often, s (actors pick weights up only when they start a task, so publishing
# faster costs the learner's thread time and gains nothing).
ASYNC_MIN_PUBLISH_INTERVAL_S = 0.05
MODES = ("sync", "async")


def play(tasks: list) -> dict:
    return {"op": "play", "tasks": tasks}


def learn(updates: int) -> dict:
    return {"op": "learn", "updates": int(updates)}


def ingest() -> dict:
    return {"op": "ingest"}


class Schedule:
    """The order of one run's commands. ``clock`` (seconds, monotonic) paces async publication."""

    def __init__(self, run: Run, mode: str = "sync", clock=time.monotonic):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.run, self.mode, self.clock = run, mode, clock
        self.published_version = run.policy_version
        self.published_at_update = run.learner.updates
        self.published_at_s = clock()
        self.publications = 0

    # ---- the pieces both modes use -------------------------------------------------------------------

    def publish(self) -> dict:
        """Record a publication of the learner's current weights and return its command."""
        run = self.run
        self.published_version = run.policy_version
        self.published_at_update = run.learner.updates
        self.published_at_s = self.clock()
        self.publications += 1
        return {"op": "publish", "version": self.published_version}

    def publish_due(self) -> bool:
        return self.run.learner.updates - self.published_at_update >= self.run.config.publish_every

    def plan(self, n_episodes: int, episodes_per_task: int | None = None, max_tasks: int | None = None) -> list:
        """The next ``n_episodes`` training ids as tasks (pqn: the next segment of up to ``max_tasks`` idle lane
        groups, all of them by default), to be played with the published weights."""
        run = self.run
        if run.config.algorithm == "pqn":
            tasks = run.plan_segments(max_tasks)
        else:
            tasks = run.plan_tasks(n_episodes, episodes_per_task)
        for task in tasks:
            task["policy_version"] = self.published_version
        return tasks

    def evaluation(self):
        """The due evaluation, with the published weights (none if it is not due; async: none while one is
        pending either). Sync: the one before it is awaited first, so no evaluation point moves; the await
        comes whether or not that one is still in flight (it depends only on the run), so every host's
        commands are the same."""
        run = self.run
        if (self.mode == "sync" and run.env_steps >= run.next_eval_at
                and (run.pending_eval_step is not None or run.evals)):
            yield {"op": "await_evaluation"}
        if self.run.eval_due():
            task = self.run.plan_eval()
            task["policy_version"] = self.published_version
            yield {"op": "evaluate", "task": task, "version": self.published_version}

    # ---- sync -----------------------------------------------------------------------------------------

    def sync_batch(self, episodes_per_task: int | None = None):
        """The commands of one synchronous batch; a host stops between batches, never inside one."""
        run = self.run
        yield from self.evaluation()  # due before the first batch only after a restore
        yield play(self.plan(run.config.batch_episodes, episodes_per_task))
        yield learn(run.updates_due)  # what the batches before this one earned
        yield ingest()
        if self.publish_due():
            yield self.publish()
        yield from self.evaluation()

    # ---- async ----------------------------------------------------------------------------------------

    def backlog_limit(self, seconds_per_update: float) -> int:
        """Updates the learner may be behind before the actors get no new tasks."""
        return max(ASYNC_MIN_BACKLOG_UPDATES, int(ASYNC_MAX_BACKLOG_S / max(seconds_per_update, 1e-9)))

    def async_step(self, free_tasks: int, episodes_per_task: int | None, seconds_per_update: float,
                   learn_max: int | None = None, feed: bool = True):
        """One pass of the asynchronous loop.

        ``free_tasks``: tasks the actors can take now (the host's capacity minus what it holds);
        ``episodes_per_task``: size of a new task (None: the config's); ``seconds_per_update``: the learner's
        measured speed; ``learn_max``: the longest slice the host wants (None: every due update); ``feed``
        False while draining (no new tasks, no new evaluation).
        """
        run = self.run
        yield ingest()
        if feed:
            yield from self.evaluation()
            if run.updates_due <= self.backlog_limit(seconds_per_update) and free_tasks > 0:
                per = run.config.episodes_per_task if episodes_per_task is None else int(episodes_per_task)
                tasks = self.plan(per * int(free_tasks), per, int(free_tasks))
                if tasks:  # pqn: every lane group may be in flight already
                    yield play(tasks)
        due = run.updates_due
        if due > 0:
            yield learn(due if learn_max is None else max(1, min(due, int(learn_max))))
            if (self.publish_due() and run.pending_eval_step is None
                    and self.clock() - self.published_at_s >= ASYNC_MIN_PUBLISH_INTERVAL_S):
                yield self.publish()

    def finish(self):
        """After an async drain: the updates the last results earned."""
        if self.run.updates_due > 0:
            yield learn(self.run.updates_due)
