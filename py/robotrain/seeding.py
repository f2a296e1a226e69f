"""Episode seeds derive from (run seed, stream, episode id), never from which worker or lane ran an episode.

An episode's seed is the integer passed to ``env.reset(seeds=...)``, the same integer Gymnasium's
``reset(seed=...)`` would take. The lane's generator it creates draws the start state first and then, in the
actor, the episode's exploration coin flips and random actions, so one seed fixes the whole episode.
"""

MASK64 = (1 << 64) - 1

TRAIN_STREAM = 0  # episodes played to fill the replay buffer
EVAL_STREAM = 1  # greedy evaluation episodes; disjoint from training ids by construction
VIEW_STREAM = 2  # episodes the page plays live for the viewer


def _splitmix64(x: int) -> int:
    """One step of Steele, Lea & Flood's SplitMix64 finaliser (OOPSLA 2014): a bijective 64-bit mixer."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def episode_seed(run_seed: int, episode_id: int, stream: int = TRAIN_STREAM) -> int:
    """A 32-bit seed for one episode; a pure function of its arguments.

    Pure-Python integer mixing (about 1 us) rather than a SeedSequence (about 12 us), because the actor asks
    for one at every episode start; the generator that ``env.reset`` builds from it hashes it again anyway.
    """
    if run_seed < 0 or episode_id < 0 or stream < 0:
        raise ValueError(f"seeds need non-negative run_seed, episode_id and stream, got {run_seed}, {episode_id}, {stream}")
    return _splitmix64(_splitmix64(_splitmix64(run_seed) ^ stream) ^ episode_id) >> 32
