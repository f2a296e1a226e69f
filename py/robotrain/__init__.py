"""robotrain: robot-physics environments and a numpy Double-DQN, one core for browser, CPython and Ray.

Nothing here runs at import beyond defining names; see ``docs/architecture.md`` for how the modules fit.
"""

__version__ = "0.1.0"
