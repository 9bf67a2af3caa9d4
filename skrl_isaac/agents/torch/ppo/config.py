"""PPO's configuration: the skrl-style ``PPO_DEFAULT_CONFIG`` dict (what users pass and merge into) and
:class:`PPOConfig`, the typed view of a merged dict that the agent builds once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from skrl_isaac.agents.torch.recorder import EXPERIMENT_DEFAULT_CONFIG

PPO_DEFAULT_CONFIG: dict[str, Any] = {
    "rollouts": 16,                 # number of rollouts (environment steps per env) before updating
    "learning_epochs": 8,           # number of learning epochs during each update
    "mini_batches": 2,              # number of mini batches during each learning epoch

    "discount_factor": 0.99,        # discount factor (gamma)
    "lambda": 0.95,                 # TD(lambda) coefficient (lam) for computing returns and advantages

    "learning_rate": 1e-3,                  # learning rate
    "learning_rate_scheduler": None,        # learning rate scheduler class (or "KLAdaptiveRL")
    "learning_rate_scheduler_kwargs": {},   # learning rate scheduler's kwargs (e.g. {"kl_threshold": 0.008})

    "state_preprocessor": None,             # state preprocessor class (or "RunningStandardScaler")
    "state_preprocessor_kwargs": {},        # state preprocessor's kwargs (e.g. {"size": env.observation_space})
    "value_preprocessor": None,             # value preprocessor class (or "RunningStandardScaler")
    "value_preprocessor_kwargs": {},        # value preprocessor's kwargs (e.g. {"size": 1})

    "random_timesteps": 0,          # random exploration steps
    "learning_starts": 0,           # learning starts after this many steps

    "grad_norm_clip": 0.5,              # clipping coefficient for the norm of the gradients (<= 0: off)
    "ratio_clip": 0.2,                  # clipping coefficient for computing the clipped surrogate objective
    "value_clip": 0.2,                  # clipping coefficient for computing the value loss (if clip_predicted_values is True)
    "clip_predicted_values": False,     # clip predicted values during value loss computation (PPO2: the larger
                                        # of the clipped and the unclipped squared error, as baselines/rl_games)

    "entropy_loss_scale": 0.0,      # entropy loss scaling factor (0: no entropy term, no "Loss / Entropy loss")
    "bounds_loss_scale": 0.0,       # weight of rl_games' bounds loss (bounds_loss_coef): the squared excess of each
                                    # mean action beyond +-1.1, summed over the actions (Gaussian policies; 0: off)
    "value_loss_scale": 1.0,        # value loss scaling factor

    "kl_threshold": 0,              # KL divergence threshold for early stopping of an update (0: off)
    "kl_since": "rollout",          # the KL divergence that drives KLAdaptiveRL and kl_threshold, measured from:
                                    # "rollout", the policy that collected the rollout (skrl); "epoch", each
                                    # sample's policy at the previous epoch (rl_games: one epoch's step)

    "rewards_shaper": None,         # rewards shaping function: Callable(reward, timestep, timesteps) -> reward
    "time_limit_bootstrap": False,  # bootstrap at timeout termination (episode truncation)

    "mixed_precision": False,       # run the models' forward passes under torch.autocast in bfloat16 (CPUs
                                    # with AVX512-BF16/AMX, GPUs with bfloat16; float16 with a GradScaler on
                                    # pre-Ampere GPUs); parameters, optimizer and losses stay float32
    "cuda_graph": True,             # on a CUDA device, replay the rollout's policy step and the update's
                                    # minibatch step as CUDA graphs (the same kernels, one launch each; see
                                    # cuda_graph.py and the README). Not with mixed_precision

    "experiment": dict(EXPERIMENT_DEFAULT_CONFIG),
}


@dataclass(frozen=True)
class PPOConfig:
    """The scalar hyperparameters of a merged ``PPO_DEFAULT_CONFIG`` (classes, kwargs and the experiment
    section are read from the dict where they are built)."""

    rollouts: int
    """Environment steps per env between two updates (the memory's ``memory_size``)."""
    learning_epochs: int
    """Passes over the rollout in each update."""
    mini_batches: int
    """Minibatches the rollout is split into in each epoch."""
    discount_factor: float
    """Discount factor (gamma)."""
    lambda_: float
    """GAE's lambda (``cfg["lambda"]``)."""
    ratio_clip: float
    """Clipping range of the probability ratio in the surrogate objective (epsilon)."""
    value_clip: float
    """Clipping range of the predicted values around the rollout's (with ``clip_predicted_values``)."""
    clip_predicted_values: bool
    """Take the larger of the clipped and unclipped squared value errors (PPO2)."""
    entropy_loss_scale: float
    """Weight of the entropy bonus (0: no entropy term and no ``Loss / Entropy loss`` tag)."""
    value_loss_scale: float
    """Weight of the value loss."""
    bounds_loss_scale: float
    """Weight of the bounds loss, ``sum(relu(|mean action| - 1.1)^2)`` (rl_games' ``bounds_loss_coef``): keeps a
    Gaussian policy's means where clipping to [-1, 1] leaves their samples a gradient (0: off)."""
    kl_threshold: float
    """Stop an update early once the approximate KL divergence exceeds this (0: never)."""
    kl_since: str
    """Where the KL divergence of the learning-rate schedule and the early stop is measured from: ``"rollout"``
    (the policy that collected the rollout: the update's whole move) or ``"epoch"`` (each sample's policy when
    the previous epoch visited it: one epoch's move, as rl_games' adaptive schedule)."""
    random_timesteps: int
    """Steps that act uniformly at random before the policy acts."""
    learning_starts: int
    """Steps before the first update."""
    rewards_shaper: Callable[[Any, int, int], Any] | None
    """``f(rewards, timestep, timesteps) -> rewards`` applied before storing (None: rewards as given)."""
    time_limit_bootstrap: bool
    """Add ``discount_factor * value`` to the reward of time-out (truncated) steps."""
