"""Run by tests/utils/test_distributed.py under torchrun (2 ranks, gloo): each rank checks the collectives against
what it can compute alone and writes its findings to <out>/rank<r>.json."""

import json
import sys

import torch

from skrl_isaac.utils import distributed as dist_utils


def main(out: str) -> None:
    info = dist_utils.init("cpu")
    rank, size = info.rank, info.world_size
    result = {"rank": rank, "world_size": size, "local_rank": info.local_rank, "is_main": info.is_main}

    torch.manual_seed(100 + rank)  # different parameters per rank before the broadcast
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    model[1].running_mean.fill_(float(rank))
    dist_utils.broadcast_parameters([model])
    torch.manual_seed(100)
    reference = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    result["broadcast_equal_rank0"] = all(torch.equal(a, b) for a, b in zip(model.parameters(), reference.parameters()))
    result["buffers_from_rank0"] = model[1].running_mean.tolist()

    for p in model.parameters():
        p.grad = torch.full_like(p, float(rank + 1))
    model[1].bias.grad = None if rank == 1 else model[1].bias.grad  # a missing gradient counts as zero
    dist_utils.all_reduce_gradients(model.parameters())
    result["grad_weight"] = sorted(set(model[0].weight.grad.reshape(-1).tolist()))
    result["grad_bias_missing_on_rank1"] = sorted(set(model[1].bias.grad.tolist()))

    kl = torch.tensor(float(rank) * 2.0)
    result["kl_mean"] = dist_utils.all_reduce_mean(kl).item()

    # moments of data spread over the ranks, against the moments of all the data at once
    data = [torch.randn(5 + 3 * r, 2, generator=torch.Generator().manual_seed(r), dtype=torch.float64) * (r + 1) + r
            for r in range(size)]
    mine = data[rank]
    count, mean, m2 = dist_utils.merge_moments(torch.tensor(float(mine.shape[0]), dtype=torch.float64),
                                               mine.mean(0), ((mine - mine.mean(0)) ** 2).sum(0))
    everything = torch.cat(data)
    result["moments_count"] = count.item()
    result["moments_mean_error"] = (mean - everything.mean(0)).abs().max().item()
    result["moments_var_error"] = (m2 / count - everything.var(0, unbiased=False)).abs().max().item()
    try:
        dist_utils.check_same_device_type("cpu")
        result["same_device_type"] = True
    except ValueError:
        result["same_device_type"] = False
    dist_utils.close()
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
