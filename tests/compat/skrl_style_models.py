"""Models written as skrl users write them, in both signature generations, with only the import root changed.

``*Inputs`` classes: skrl 0.9-1.4 (``compute(inputs, role)`` returning ``(..., outputs)``).
``*States`` classes: skrl 0.8 (``compute(states, taken_actions, role)``).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from skrl_isaac.models.torch import CategoricalMixin, DeterministicMixin, GaussianMixin, Model


def mlp(inputs: int, outputs: int, hidden: int = 32) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(),
                         nn.Linear(hidden, outputs))


# -- skrl 0.9-1.4 -------------------------------------------------------------------------------
class PolicyInputs(GaussianMixin, Model):
    def __init__(self, observation_space, action_space, device, clip_actions=False,
                 clip_log_std=True, min_log_std=-20, max_log_std=2, reduction="sum"):
        Model.__init__(self, observation_space, action_space, device)
        GaussianMixin.__init__(self, clip_actions, clip_log_std, min_log_std, max_log_std, reduction)
        self.net = mlp(self.num_observations, self.num_actions)
        self.log_std_parameter = nn.Parameter(torch.zeros(self.num_actions))

    def compute(self, inputs, role):
        return torch.tanh(self.net(inputs["states"])), self.log_std_parameter, {}


class ValueInputs(DeterministicMixin, Model):
    def __init__(self, observation_space, action_space, device, clip_actions=False):
        Model.__init__(self, observation_space, action_space, device)
        DeterministicMixin.__init__(self, clip_actions)
        self.net = mlp(self.num_observations, 1)

    def compute(self, inputs, role):
        return self.net(inputs["states"]), {}


class ActorInputs(DeterministicMixin, Model):
    def __init__(self, observation_space, action_space, device, clip_actions=True):
        Model.__init__(self, observation_space, action_space, device)
        DeterministicMixin.__init__(self, clip_actions)
        self.net = mlp(self.num_observations, self.num_actions)

    def compute(self, inputs, role):
        return torch.tanh(self.net(inputs["states"])), {}


class CriticInputs(DeterministicMixin, Model):
    def __init__(self, observation_space, action_space, device, clip_actions=False):
        Model.__init__(self, observation_space, action_space, device)
        DeterministicMixin.__init__(self, clip_actions)
        self.net = mlp(self.num_observations + self.num_actions, 1)

    def compute(self, inputs, role):
        return self.net(torch.cat([inputs["states"], inputs["taken_actions"]], dim=1)), {}


class QNetworkInputs(DeterministicMixin, Model):
    def __init__(self, observation_space, action_space, device, clip_actions=False):
        Model.__init__(self, observation_space, action_space, device)
        DeterministicMixin.__init__(self, clip_actions)
        self.net = mlp(self.num_observations, int(action_space.n))

    def compute(self, inputs, role):
        return self.net(inputs["states"]), {}


class CategoricalPolicyInputs(CategoricalMixin, Model):
    def __init__(self, observation_space, action_space, device, unnormalized_log_prob=True):
        Model.__init__(self, observation_space, action_space, device)
        CategoricalMixin.__init__(self, unnormalized_log_prob)
        self.net = mlp(self.num_observations, int(action_space.n))

    def compute(self, inputs, role):
        return self.net(inputs["states"]), {}


class SharedInputs(GaussianMixin, DeterministicMixin, Model):
    """One network, two heads: the policy's mean and the value (skrl's shared-model example)."""

    def __init__(self, observation_space, action_space, device, clip_actions=False,
                 clip_log_std=True, min_log_std=-20, max_log_std=2, reduction="sum"):
        Model.__init__(self, observation_space, action_space, device)
        GaussianMixin.__init__(self, clip_actions, clip_log_std, min_log_std, max_log_std, reduction, role="policy")
        DeterministicMixin.__init__(self, False, role="value")
        self.net = nn.Sequential(nn.Linear(self.num_observations, 32), nn.ELU(), nn.Linear(32, 32), nn.ELU())
        self.mean_layer = nn.Linear(32, self.num_actions)
        self.log_std_parameter = nn.Parameter(torch.zeros(self.num_actions))
        self.value_layer = nn.Linear(32, 1)

    def act(self, inputs, role):
        if role == "policy":
            return GaussianMixin.act(self, inputs, role)
        elif role == "value":
            return DeterministicMixin.act(self, inputs, role)

    def compute(self, inputs, role):
        if role == "policy":
            return torch.tanh(self.mean_layer(self.net(inputs["states"]))), self.log_std_parameter, {}
        elif role == "value":
            return self.value_layer(self.net(inputs["states"])), {}


class SharedCachedInputs(GaussianMixin, DeterministicMixin, Model):
    """skrl 1.x's Isaac Gym shared model: both mixins with the default role, and the shared network's output
    of the policy call cached for the value call that follows."""

    def __init__(self, observation_space, action_space, device, clip_actions=False,
                 clip_log_std=True, min_log_std=-20, max_log_std=2, reduction="sum"):
        Model.__init__(self, observation_space, action_space, device)
        GaussianMixin.__init__(self, clip_actions, clip_log_std, min_log_std, max_log_std, reduction)
        DeterministicMixin.__init__(self, clip_actions)
        self.net = nn.Sequential(nn.Linear(self.num_observations, 32), nn.ELU(), nn.Linear(32, 32), nn.ELU())
        self.mean_layer = nn.Linear(32, self.num_actions)
        self.log_std_parameter = nn.Parameter(torch.zeros(self.num_actions))
        self.value_layer = nn.Linear(32, 1)

    def act(self, inputs, role):
        if role == "policy":
            return GaussianMixin.act(self, inputs, role)
        elif role == "value":
            return DeterministicMixin.act(self, inputs, role)

    def compute(self, inputs, role):
        if role == "policy":
            self._shared_output = self.net(inputs["states"])
            return self.mean_layer(self._shared_output), self.log_std_parameter, {}
        elif role == "value":
            shared_output = self.net(inputs["states"]) if self._shared_output is None else self._shared_output
            self._shared_output = None
            return self.value_layer(shared_output), {}


class TwoNetsSharedInputs(GaussianMixin, DeterministicMixin, Model):
    """A shared model whose roles use disjoint networks: the same math as PolicyInputs + ValueInputs."""

    def __init__(self, observation_space, action_space, device):
        Model.__init__(self, observation_space, action_space, device)
        GaussianMixin.__init__(self, role="policy")
        DeterministicMixin.__init__(self, role="value")
        self.policy_net = mlp(self.num_observations, self.num_actions)
        self.log_std_parameter = nn.Parameter(torch.zeros(self.num_actions))
        self.value_net = mlp(self.num_observations, 1)

    def act(self, inputs, role):
        if role == "policy":
            return GaussianMixin.act(self, inputs, role)
        elif role == "value":
            return DeterministicMixin.act(self, inputs, role)

    def compute(self, inputs, role):
        if role == "policy":
            return torch.tanh(self.policy_net(inputs["states"])), self.log_std_parameter, {}
        elif role == "value":
            return self.value_net(inputs["states"]), {}


# -- skrl 0.8 -----------------------------------------------------------------------------------
class PolicyStates(GaussianMixin, Model):
    def __init__(self, observation_space, action_space, device, clip_actions=False,
                 clip_log_std=True, min_log_std=-20, max_log_std=2, reduction="sum"):
        Model.__init__(self, observation_space, action_space, device)
        GaussianMixin.__init__(self, clip_actions, clip_log_std, min_log_std, max_log_std, reduction)
        self.net = mlp(self.num_observations, self.num_actions)
        self.log_std_parameter = nn.Parameter(torch.zeros(self.num_actions))

    def compute(self, states, taken_actions, role):
        return torch.tanh(self.net(states)), self.log_std_parameter


class ValueStates(DeterministicMixin, Model):
    def __init__(self, observation_space, action_space, device, clip_actions=False):
        Model.__init__(self, observation_space, action_space, device)
        DeterministicMixin.__init__(self, clip_actions)
        self.net = mlp(self.num_observations, 1)

    def compute(self, states, taken_actions, role):
        return self.net(states)


class ActorStates(DeterministicMixin, Model):
    def __init__(self, observation_space, action_space, device, clip_actions=True):
        Model.__init__(self, observation_space, action_space, device)
        DeterministicMixin.__init__(self, clip_actions)
        self.net = mlp(self.num_observations, self.num_actions)

    def compute(self, states, taken_actions, role):
        return torch.tanh(self.net(states))


class CriticStates(DeterministicMixin, Model):
    def __init__(self, observation_space, action_space, device, clip_actions=False):
        Model.__init__(self, observation_space, action_space, device)
        DeterministicMixin.__init__(self, clip_actions)
        self.net = mlp(self.num_observations + self.num_actions, 1)

    def compute(self, states, taken_actions, role):
        return self.net(torch.cat([states, taken_actions], dim=1))


class QNetworkStates(DeterministicMixin, Model):
    def __init__(self, observation_space, action_space, device, clip_actions=False):
        Model.__init__(self, observation_space, action_space, device)
        DeterministicMixin.__init__(self, clip_actions)
        self.net = mlp(self.num_observations, int(action_space.n))

    def compute(self, states, taken_actions, role):
        return self.net(states)


class CategoricalPolicyStates(CategoricalMixin, Model):
    def __init__(self, observation_space, action_space, device, unnormalized_log_prob=True):
        Model.__init__(self, observation_space, action_space, device)
        CategoricalMixin.__init__(self, unnormalized_log_prob)
        self.net = mlp(self.num_observations, int(action_space.n))

    def compute(self, states, taken_actions, role):
        return self.net(states)


class SharedStates(GaussianMixin, DeterministicMixin, Model):
    def __init__(self, observation_space, action_space, device, clip_actions=False,
                 clip_log_std=True, min_log_std=-20, max_log_std=2, reduction="sum"):
        Model.__init__(self, observation_space, action_space, device)
        GaussianMixin.__init__(self, clip_actions, clip_log_std, min_log_std, max_log_std, reduction, role="policy")
        DeterministicMixin.__init__(self, False, role="value")
        self.net = nn.Sequential(nn.Linear(self.num_observations, 32), nn.ELU(), nn.Linear(32, 32), nn.ELU())
        self.mean_layer = nn.Linear(32, self.num_actions)
        self.log_std_parameter = nn.Parameter(torch.zeros(self.num_actions))
        self.value_layer = nn.Linear(32, 1)

    def act(self, states, taken_actions=None, role=""):
        if role == "policy":
            return GaussianMixin.act(self, states, taken_actions, role)
        elif role == "value":
            return DeterministicMixin.act(self, states, taken_actions, role)

    def compute(self, states, taken_actions, role):
        if role == "policy":
            return torch.tanh(self.mean_layer(self.net(states))), self.log_std_parameter
        elif role == "value":
            return self.value_layer(self.net(states))


GENERATIONS = {
    "inputs": dict(policy=PolicyInputs, value=ValueInputs, actor=ActorInputs, critic=CriticInputs,
                   q_network=QNetworkInputs, categorical=CategoricalPolicyInputs, shared=SharedInputs,
                   shared_cached=SharedCachedInputs),
    "states": dict(policy=PolicyStates, value=ValueStates, actor=ActorStates, critic=CriticStates,
                   q_network=QNetworkStates, categorical=CategoricalPolicyStates, shared=SharedStates),
}
