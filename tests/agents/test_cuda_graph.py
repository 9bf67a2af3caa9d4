"""The update's minibatch step replayed as a CUDA graph (``cuda_graph.py``, PPO's ``cfg["cuda_graph"]``).

On CUDA: training with the graph must end with the same parameters and optimizer state as eager
training (the graph replays the same kernels), a storage change (a loaded optimizer state) must
re-capture, a step that reads back to the host must fall back to eager steps with a warning. On any
device: the fingerprint that decides re-capture, and the configuration.
"""

from __future__ import annotations

import contextlib
import copy
import warnings

import pytest
import torch

from skrl_isaac.agents.torch.cuda_graph import CudaGraphStep, tensor_fingerprint
from skrl_isaac.agents.torch.ppo import PPO
from skrl_isaac.envs.torch import wrap_env
from skrl_isaac.memories.torch import RandomMemory
from skrl_isaac.models.torch.mlp import MLPDeterministic, MLPGaussianPolicy
from skrl_isaac.trainers.torch import SequentialTrainer

cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


def make_env(counting_task, device, num_envs=16):
    lengths = [3 + (i % 7) for i in range(num_envs)]
    return wrap_env(counting_task(num_envs, lengths, [0.1 * (i + 1) for i in range(num_envs)], device=device,
                                  num_obs=5, num_actions=3))


def make_ppo(env, device, tmp_path, name, seed=0, **cfg):
    torch.manual_seed(seed)
    models = {"policy": MLPGaussianPolicy(env.observation_space, env.action_space, device, hiddens=[32, 16]),
              "value": MLPDeterministic(env.observation_space, env.action_space, device, outputs=1, hiddens=[32, 16])}
    config = {"rollouts": 8, "learning_epochs": 3, "mini_batches": 3, "learning_rate_scheduler": "KLAdaptiveRL",
              "state_preprocessor": "RunningStandardScaler", "value_preprocessor": "RunningStandardScaler",
              "entropy_loss_scale": 0.01, "time_limit_bootstrap": True, "clip_predicted_values": True,
              "experiment": {"directory": str(tmp_path), "experiment_name": name, "write_interval": 16,
                             "checkpoint_interval": 0}, **cfg}
    return PPO(models=models, memory=RandomMemory(memory_size=8, num_envs=env.num_envs, device=device), cfg=config,
               observation_space=env.observation_space, action_space=env.action_space, device=device)


def train(agent, env, timesteps, start=0):
    trainer = SequentialTrainer(env=env, agents=agent, cfg={"timesteps": timesteps, "disable_progressbar": True,
                                                            "close_environment_at_exit": False, "summary": False})
    trainer.initial_timestep = start
    trainer.train()


def training_state(agent) -> list[torch.Tensor]:
    tensors = [t.detach() for m in (agent.policy, agent.value, agent._state_preprocessor, agent._value_preprocessor)
               for t in m.state_dict().values()]
    for state in agent.optimizer.state.values():
        tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
    return tensors + [agent.optimizer.param_groups[0]["lr"]]


# -- any device ---------------------------------------------------------------------------------
def test_fingerprint_sees_new_tensors_not_in_place_writes():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ELU(), torch.nn.Linear(4, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    memory = {"states": torch.zeros(8, 3)}
    model(torch.randn(5, 3)).sum().backward()
    optimizer.step()
    before = tensor_fingerprint(model, optimizer, memory)
    with torch.no_grad():  # in-place writes: a captured graph reads them at the same addresses
        model[0].weight.add_(1.0)
        model.load_state_dict({k: v.clone() for k, v in model.state_dict().items()})
        memory["states"].copy_(torch.ones(8, 3))
    optimizer.step()
    assert tensor_fingerprint(model, optimizer, memory) == before
    # new tensors: a loaded optimizer state, a reassigned parameter, a new memory tensor
    optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))  # as from a file
    assert tensor_fingerprint(model, optimizer, memory) != before
    fingerprint = tensor_fingerprint(model, optimizer, memory)
    model[2].bias = torch.nn.Parameter(model[2].bias.detach().clone())
    assert tensor_fingerprint(model, optimizer, memory) != fingerprint
    fingerprint = tensor_fingerprint(model, optimizer, memory)
    memory["states"] = torch.zeros(8, 3)
    assert tensor_fingerprint(model, optimizer, memory) != fingerprint


def test_cuda_graph_config_is_checked_and_ignored_off_cuda(counting_task, tmp_path):
    env = make_env(counting_task, "cpu")
    with pytest.raises(ValueError, match="cuda_graph"):
        make_ppo(env, "cpu", tmp_path, "bad", cuda_graph="yes")
    assert make_ppo(env, "cpu", tmp_path, "cpu", cuda_graph=True)._graphed_step is None


def test_warmup_calls_must_be_positive():
    with pytest.raises(ValueError, match="warmup_calls"):
        CudaGraphStep(lambda: (), tuple, warmup_calls=0)


# -- the bookkeeping, on any device: torch.cuda's stream and graph API replaced by a stand-in ------
class FakeGraph:
    """Stands in for ``torch.cuda.CUDAGraph``: a step registers, while capturing, how to recompute its
    outputs in place (what a real graph's kernels do on replay); ``replay`` runs that."""

    capturing: "FakeGraph | None" = None

    def __init__(self):
        self.work = []

    def replay(self):
        for work in self.work:
            work()


@pytest.fixture
def fake_cuda(monkeypatch):
    class Stream:
        def __init__(self, *args, **kwargs):
            pass

        def wait_stream(self, other):
            pass

    @contextlib.contextmanager
    def graph(g, stream=None, capture_error_mode="global"):
        FakeGraph.capturing = g
        try:
            yield
        finally:
            FakeGraph.capturing = None

    mode = {"value": 0}
    monkeypatch.setattr(torch.cuda, "Stream", Stream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: Stream())
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "CUDAGraph", FakeGraph)
    monkeypatch.setattr(torch.cuda, "graph", graph)
    monkeypatch.setattr(torch.cuda, "get_sync_debug_mode", lambda: mode["value"])
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", lambda value: mode.update(value=value))
    return mode


def doubling_step(calls: list, sync_at: int | None = None, fail_capture: bool = False):
    """``x -> (2 x,)``; counts its eager runs, can warn as torch's sync debug mode does, can fail to capture."""

    def step(x):
        if FakeGraph.capturing is not None:
            if fail_capture:
                raise RuntimeError("operation not permitted when stream is capturing")
            out = torch.empty_like(x)
            FakeGraph.capturing.work.append(lambda: torch.mul(x, 2, out=out))
            return (out,)
        calls.append(x.clone())
        if sync_at is not None and len(calls) == sync_at:
            warnings.warn("called a synchronizing CUDA operation")
        return (x * 2,)

    return step


def test_warm_up_then_one_capture_per_shape_then_replays(fake_cuda, caplog):
    calls, storage, mode = [], {"fingerprint": 0}, {"training": True}
    runner = CudaGraphStep(doubling_step(calls), lambda: storage["fingerprint"], warmup_calls=3, name="toy step",
                           variant=lambda: mode["training"])
    with caplog.at_level("INFO", logger="skrl_isaac"):
        for i in range(8):
            x = torch.full((4,), float(i))
            out = runner(x)[0]
            assert torch.equal(out, 2 * x)  # the replay saw this call's input
    assert caplog.text.count("toy step: captured as a CUDA graph (inputs 4), replayed from now on") == 1
    assert len(calls) == 3 and runner.captures == 1 and runner.replays == 5
    assert out.data_ptr() != runner._graphs[next(iter(runner._graphs))][2][0].data_ptr()  # a copy, not the graph's
    runner(torch.ones(5))  # another shape: its own warm-up
    with torch.no_grad():  # another grad mode too
        runner(torch.ones(4))
    assert len(calls) == 5 and runner.captures == 1
    mode["training"] = False  # and another variant (e.g. the models in eval mode)
    runner(torch.ones(4))
    assert len(calls) == 6 and runner.captures == 1
    mode["training"] = True
    # a replaced tensor: the graphs go, the step warms up and is captured again
    storage["fingerprint"] = 1
    for i in range(4):
        assert torch.equal(runner(torch.full((4,), 7.0))[0], torch.full((4,), 14.0))
    assert len(calls) == 9 and runner.captures == 2 and runner.replays == 6


def test_the_storage_a_warm_up_creates_does_not_restart_warm_up(fake_cuda):
    calls = []
    runner = CudaGraphStep(doubling_step(calls), lambda: len(calls) > 0, warmup_calls=3)  # e.g. Adam's state
    for _ in range(5):
        runner(torch.ones(3))
    assert len(calls) == 3 and runner.captures == 1 and runner.replays == 2


def test_only_the_caller_checks_storage_when_asked_to(fake_cuda):
    calls, storage = [], {"fingerprint": 0}
    runner = CudaGraphStep(doubling_step(calls), lambda: storage["fingerprint"], warmup_calls=1,
                           check_every_call=False)
    runner.check_storage()
    runner(torch.ones(2)), runner(torch.ones(2))
    storage["fingerprint"] = 1
    runner(torch.ones(2))  # not seen yet
    assert runner.captures == 1 and runner.replays == 2
    runner.check_storage()
    runner(torch.ones(2)), runner(torch.ones(2))
    assert runner.captures == 2 and len(calls) == 2


@pytest.mark.parametrize("warmup_calls", [1, 3])
def test_a_step_that_syncs_in_its_last_warm_up_is_never_captured(fake_cuda, caplog, warmup_calls):
    calls = []
    runner = CudaGraphStep(doubling_step(calls, sync_at=warmup_calls), tuple, warmup_calls=warmup_calls,
                           name="PPO policy step")
    with caplog.at_level("WARNING", logger="skrl_isaac"):
        for _ in range(warmup_calls + 2):
            assert torch.equal(runner(torch.ones(2))[0], torch.full((2,), 2.0))
    assert not runner.enabled and runner.captures == 0 and len(calls) == warmup_calls + 2
    assert "CUDA graph of the PPO policy step: the step synchronizes with the host" in caplog.text
    assert fake_cuda["value"] == 0  # the sync debug mode is back


def test_a_failed_capture_runs_the_step_eagerly(fake_cuda, caplog):
    calls = []
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    runner = CudaGraphStep(doubling_step(calls, fail_capture=True), tuple, [optimizer], warmup_calls=1)
    with caplog.at_level("WARNING", logger="skrl_isaac"):
        outputs = [runner(torch.ones(2))[0] for _ in range(3)]
    assert all(torch.equal(out, torch.full((2,), 2.0)) for out in outputs) and len(calls) == 3
    assert not runner.enabled and "capturing raised RuntimeError" in caplog.text
    assert optimizer.param_groups[0]["capturable"] is False  # restored


def test_optimizers_are_capturable_only_while_capturing(fake_cuda):
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    seen = []

    def step(x):
        seen.append((FakeGraph.capturing is not None, optimizer.param_groups[0]["capturable"]))
        return doubling_step([])(x)

    runner = CudaGraphStep(step, tuple, [optimizer], warmup_calls=2)
    for _ in range(3):
        runner(torch.ones(1))
    assert seen == [(False, False), (False, False), (True, True)]
    assert optimizer.param_groups[0]["capturable"] is False


# -- CUDA -----------------------------------------------------------------------------------------
def toy_training(device, graphed: bool, steps: int, shapes=(64,), reload_at: int | None = None):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.ELU(), torch.nn.Linear(32, 1)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=torch.tensor(1e-2, device=device), fused=True)
    data = torch.randn(256, 6, device=device)
    targets = data.sum(dim=1, keepdim=True)

    def step(indexes):
        optimizer.zero_grad(set_to_none=True)
        loss = ((model(data[indexes]) - targets[indexes]) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return (loss.detach(),)

    runner = CudaGraphStep(step, lambda: tensor_fingerprint(model, optimizer), [optimizer]) if graphed else step
    losses = []
    for i in range(steps):
        if i == reload_at:
            optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))  # new tensors, as from a file
        size = shapes[i % len(shapes)]
        losses.append(runner(torch.randperm(256, device=device)[:size])[0])
    return model, optimizer, torch.stack(losses), runner


@cuda_only
def test_graph_replay_trains_exactly_like_eager_steps():
    model, optimizer, losses, runner = toy_training("cuda", True, 12, shapes=(64, 48))
    ref_model, ref_optimizer, ref_losses, _ = toy_training("cuda", False, 12, shapes=(64, 48))
    assert runner.captures == 2 and runner.replays == 12 - 2 * 3 - 0  # two shapes, 3 warm-up calls each
    assert torch.equal(losses, ref_losses)
    for p, q in zip(model.parameters(), ref_model.parameters()):
        assert torch.equal(p, q)
    assert not optimizer.param_groups[0]["capturable"]  # restored after capture (checkpoints keep it)


@cuda_only
def test_a_new_optimizer_state_is_captured_again():
    model, _, losses, runner = toy_training("cuda", True, 14, reload_at=6)
    ref_model, _, ref_losses, _ = toy_training("cuda", False, 14, reload_at=6)
    assert runner.captures == 2  # steps 3 (first capture) and 9 (after the reload's 3 warm-up calls)
    assert torch.equal(losses, ref_losses)
    for p, q in zip(model.parameters(), ref_model.parameters()):
        assert torch.equal(p, q)


@cuda_only
@pytest.mark.parametrize("warmup_calls", [1, 3])
def test_a_step_that_reads_back_is_never_captured(caplog, warmup_calls):
    calls = []

    def step(x):
        calls.append(float(x.sum()))  # a host read: cannot be captured
        return (x * 2,)

    runner = CudaGraphStep(step, tuple, warmup_calls=warmup_calls)
    x = torch.ones(3, device="cuda")
    with caplog.at_level("WARNING", logger="skrl_isaac"):
        for _ in range(warmup_calls + 2):
            assert torch.equal(runner(x)[0], x * 2)
    assert not runner.enabled and runner.captures == 0 and runner.replays == 0
    assert "the step synchronizes with the host" in caplog.text
    assert calls == [3.0] * (warmup_calls + 2)  # each call ran once, eagerly
    assert torch.cuda.get_sync_debug_mode() == 0  # the check restored the mode


@cuda_only
def test_ppo_with_cuda_graph_trains_like_eager_ppo(counting_task, tmp_path):
    results = {}
    for graphed in (True, False):
        env = make_env(counting_task, "cuda")
        agent = make_ppo(env, "cuda", tmp_path, f"graph{graphed}", cuda_graph=graphed)
        assert (agent._graphed_step is not None) == graphed
        train(agent, env, 48)  # 6 updates of 9 minibatch steps (sizes 43, 43, 42: two graphs)
        results[graphed] = training_state(agent)
        if graphed:
            assert agent._graphed_step.captures == 2 and agent._graphed_step.replays == 6 * 9 - 2 * 3
            assert agent._graphed_act.captures == 1 and agent._graphed_act.replays == 48 - 3
    for graphed_tensor, eager_tensor in zip(results[True], results[False]):
        assert torch.equal(graphed_tensor, eager_tensor)


@cuda_only
def test_ppo_resumed_from_a_checkpoint_captures_again(counting_task, tmp_path):
    env = make_env(counting_task, "cuda")
    agent = make_ppo(env, "cuda", tmp_path, "first")
    train(agent, env, 24)
    path = agent.save(str(tmp_path / "24_agent.pt"), 24)
    train(agent, env, 40, start=24)
    resumed = {}
    for graphed in (True, False):
        env = make_env(counting_task, "cuda")
        other = make_ppo(env, "cuda", tmp_path, f"resumed{graphed}", seed=1, cuda_graph=graphed)
        train(other, env, 8)  # captured (graphed) with its own optimizer state before the load
        other.load(path)
        torch.manual_seed(2)
        train(other, env, 40, start=24)
        resumed[graphed] = training_state(other)
        if graphed:
            # one update before the load captured size 43 (size 42 was still warming up); two after it
            assert other._graphed_step.captures == 1 + 2
    for graphed_tensor, eager_tensor in zip(resumed[True], resumed[False]):
        assert torch.equal(graphed_tensor, eager_tensor)
