"""Load a policy checkpoint (and its input normalizer) into an agent for playing."""

from __future__ import annotations

import os

from skrl_isaac import logger
from skrl_isaac.agents.torch.base import Agent
from skrl_isaac.models.torch.base import check_state_dict, load_state_dict_file


def load_policy(agent: Agent, path: str) -> None:
    """Load ``<prefix>_<policy>.pt`` into the agent's policy model (``policy``; DQN's ``q_network``) and
    ``<prefix>_state_preprocessor.pt`` beside it, if any.

    A skrl 1.x agent checkpoint (``agent_<t>.pt``, ``best_agent.pt``) loads its models and preprocessors.

    :raises CheckpointError: for a missing, unreadable or mismatched file (one line naming the file)
    """
    from skrl_isaac.interop.skrl1 import is_skrl1_checkpoint_name

    if is_skrl1_checkpoint_name(path):
        agent.load(path)
        return
    name = agent.policy_checkpoint_names[0]
    agent.models[name].load(path)
    base = os.path.basename(path)
    suffix = f"_{name}.pt"
    if not base.endswith(suffix):
        return
    preprocessor = agent.checkpoint_modules.get("state_preprocessor")
    sibling = os.path.join(os.path.dirname(path), base[: -len(suffix)] + "_state_preprocessor.pt")
    if preprocessor is None:
        return
    if not os.path.isfile(sibling):
        logger.warning(f"{sibling} not found: playing without the observation normalizer the policy was trained with")
        return
    state = load_state_dict_file(sibling, map_location=agent.device)
    check_state_dict(preprocessor, state, sibling)
    preprocessor.load_state_dict(state)
