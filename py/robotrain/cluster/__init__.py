"""Training on Ray: ``robotrain.cluster.trainer`` (the host) and ``robotrain.cluster.bench`` (its benchmark)."""

from .trainer import RayTrainer, init_ray, train_ray

__all__ = ["RayTrainer", "init_ray", "train_ray"]
