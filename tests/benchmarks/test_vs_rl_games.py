"""benchmarks/vs_rl_games.py: thresholds, interpolation and the table from known curves."""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "benchmarks"))

from vs_rl_games import (Curve, first_crossing, label, report, rl_games_sac_config, rl_games_settings,  # noqa: E402
                         steps_per_iteration, summarize, train_cfg, value_at)


def curve(learner, seed, steps, seconds, returns):
    return Curve(learner, seed, np.array(steps), np.array(seconds, dtype=float), np.array(returns, dtype=float))


def test_first_crossing_and_value_at():
    x, r = np.array([10, 20, 30]), np.array([1.0, 5.0, 9.0])
    assert first_crossing(x, r, 5.0) == 20 and first_crossing(x, r, 10.0) is None
    assert value_at(x, r, 25) == 7.0 and value_at(x, r, 99) == 9.0


def test_report_gives_ratios_per_seed_and_their_median():
    curves = [curve("ours", 1, [100, 200, 300], [1, 2, 3], [0, 400, 500]),
              curve("rl_games", 1, [100, 200, 300, 400], [2, 4, 6, 8], [0, 100, 400, 450]),
              curve("ours", 2, [100, 200], [1, 2], [0, 100]),
              curve("rl_games", 2, [100, 200], [1, 2], [400, 400])]
    lines = report("Cartpole", curves, 400.0)
    assert lines[2] == "1 | ours | 200.0 | 2 | 500.0 | 500.0 | 500.0"
    assert lines[3] == "1 | rl_games | 300.0 | 6 | 450.0 | 400.0 | 50.0"
    assert "['0.67', 'n/a (not reached by ours)']; median 0.67" in lines[-5]
    assert "['0.33', 'n/a (not reached by ours)']; median 0.33" in lines[-4]
    # the median seed: ours reached at 200 (seed 1) and never (seed 2): median never; rl_games 300 and 100
    assert lines[-3] == "median seed, ours: env-steps to threshold never, seconds never, final return 300.0"
    assert lines[-2] == "median seed, rl_games: env-steps to threshold 200, seconds 4, final return 425.0"
    assert lines[-1] == "median seed, ours / rl_games: n/a (a median seed never reached the threshold)"
    assert summarize(curves[2], 400.0).steps_to_threshold is None


def test_rl_games_settings_keep_each_hyper_parameter_meaning():
    ant, humanoid = rl_games_settings(train_cfg("Ant")), rl_games_settings(train_cfg("Humanoid"))
    # IsaacGymEnvs: AntPPO critic_coef 2 without gradient truncation, HumanoidPPO critic_coef 4 truncated at 1.0
    assert (ant["critic_coef"], ant["truncate_grads"]) == (2.0, False)
    assert (humanoid["critic_coef"], humanoid["truncate_grads"], humanoid["grad_norm"]) == (4.0, True, 1.0)
    assert ant["reward_shaper"] == {"scale_value": 0.01} and ant["gamma"] == 0.99 and ant["tau"] == 0.95
    assert ant["e_clip"] == 0.2 and ant["clip_value"] is True and ant["kl_threshold"] == 0.008


def test_rl_games_sac_config_is_isaacgymenvs_antsac_from_our_config():
    cfg = train_cfg("Ant", "SAC")
    config = rl_games_sac_config(cfg, "rlgpu", 64, "x", "/tmp", iterations=100, seed=3)["params"]
    c = config["config"]
    # IsaacGymEnvs' AntSAC: 64 actors, 8 steps per epoch, 5 seed and 10 warm-up epochs, a 1M-transition buffer
    assert (c["num_actors"], c["num_steps_per_episode"], c["num_seed_steps"], c["num_warmup_steps"]) == (64, 8, 5, 10)
    assert c["replay_buffer_size"] == 1_000_000 and c["batch_size"] == 4096 and c["max_epochs"] == 100
    assert (c["actor_lr"], c["critic_lr"], c["alpha_lr"], c["critic_tau"], c["init_alpha"]) == (
        5e-4, 5e-4, 5e-3, 0.005, 1.0)
    assert c["normalize_input"] is True and c["reward_shaper"] == {"scale_value": 1.0}
    assert config["network"]["mlp"]["units"] == [512, 256] and config["seed"] == 3
    assert steps_per_iteration(cfg) == 8 and steps_per_iteration(train_cfg("Ant")) == 16
    assert label("Ant", "PPO") == "Ant" and label("Ant", "SAC") == "AntSAC"


def test_median_seed_ratio():
    curves = [curve("ours", s, [100, 200, 300], [1, 2, 3], r) for s, r in
              ((1, [0, 400, 500]), (2, [0, 0, 450]), (3, [0, 0, 10]))]
    curves += [curve("rl_games", s, [100, 200, 300], [2, 4, 6], r) for s, r in
               ((1, [0, 0, 0]), (2, [0, 0, 400]), (3, [0, 0, 400]))]
    lines = report("Ant", curves, 400.0)
    assert lines[-3] == "median seed, ours: env-steps to threshold 300, seconds 3, final return 450.0"
    assert lines[-2] == "median seed, rl_games: env-steps to threshold 300, seconds 6, final return 400.0"
    assert lines[-1] == "median seed, ours / rl_games: env-steps 1.00, seconds 0.50"


def test_report_of_one_learner_gives_its_lines_alone():
    lines = report("Ant", [curve("ours", 1, [100, 200], [1, 2], [0, 3000]), curve("ours", 2, [100, 200], [1, 2], [0, 10])],
                   3000.0)
    assert lines[2:4] == ["1 | ours | 200.0 | 2 | 3000.0 | 3000.0 | 3000.0", "2 | ours | None | n/a | 10.0 | 10.0 | 10.0"]
    assert len(lines) == 4  # no ratios, no median-seed comparison
