"""What one page-benchmark run measures and for how long: tests/bench/page_bench.py's options as a Plan."""

from __future__ import annotations


class Plan:
    """What one run measures and for how long (seconds); --quick shortens every part."""

    def __init__(self, quick: bool, only: tuple = (), envs: tuple = (), modes: tuple = (), algorithms: tuple = (),
                 workers: tuple = (), settings: tuple = ()):
        self.quick = quick
        # Time to solve: more page settings for every run ("lanes=16"), as URL parameters; named in each row's key.
        self.solve_settings = dict(item.split("=", 1) for item in settings)
        self.only = tuple(only)  # sections to run alone (learner, solve); empty: everything
        self.native_min_steps = 5_000 if quick else 20_000
        self.native_repeats = 3 if quick else 5
        self.worker_counts = [1, 2, 12] if quick else [1, 2, 4, 8, 12]
        self.memory_counts = {1, 4, 12}
        self.warmup_s = 1.5 if quick else 3.0
        self.window_s = 1.5 if quick else 3.0
        self.windows = 3 if quick else 4
        self.startup_repeats = 0 if quick else 3  # --quick: the 1-worker row's start-up is the figure
        # Time to solve: (env, seeds, cap in s from navigation) per run, in each mode (sync is the page's
        # default; its worker count is the page's auto count, 1 on a 2-core machine).
        runs = [("cartpole", (0, 1, 2), 120), ("acrobot", (0, 1, 2), 120), ("balancebot", (0,), 900)]
        self.solve_runs = [("cartpole", (0, 1, 2), 90)] if quick else runs
        self.solve_modes = ("sync",) if quick else ("main", "sync", "async")
        if envs:
            self.solve_runs = [r for r in runs if r[0] in envs]
        self.modes_given = bool(modes)
        if modes:
            self.solve_modes = tuple(modes)
        # Time to solve per algorithm (none given: the env's default, no algorithm in the URL) and per worker
        # count (none given: the page's auto count).
        self.solve_algorithms = tuple(algorithms) or (None,)
        self.solve_workers = tuple(workers) or (None,)
        self.learner_updates = 20 if quick else 40
        self.learner_repeats = 5 if quick else 7
        self.fps_windows = 2 if quick else 5
