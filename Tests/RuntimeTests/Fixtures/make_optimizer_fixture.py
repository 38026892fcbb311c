# Regenerates optimizer_trajectories.json: parameter values after each step of torch.optim
# optimisers fed a fixed sequence of gradients. graphc's optimisers must match them.
# Run: python3 Tests/RuntimeTests/Fixtures/make_optimizer_fixture.py (needs torch).
import json, torch
torch.manual_seed(0)
p0 = torch.randn(7).tolist()
grads = [torch.randn(7).tolist() for _ in range(5)]
configs = {
    "sgd": lambda p: torch.optim.SGD([p], lr=0.1),
    "sgd_wd": lambda p: torch.optim.SGD([p], lr=0.1, weight_decay=0.01),
    "sgd_momentum": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.001),
    "adam": lambda p: torch.optim.Adam([p], lr=4e-4),
    "adam_wd": lambda p: torch.optim.Adam([p], lr=1e-2, weight_decay=0.1),
}
out = {"initial": p0, "gradients": grads, "trajectories": {}}
for name, make in configs.items():
    p = torch.tensor(p0, requires_grad=True)
    opt = make(p)
    steps = []
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        steps.append(p.detach().tolist())
    out["trajectories"][name] = steps
json.dump(out, open(__file__.replace("make_optimizer_fixture.py", "optimizer_trajectories.json"), "w"), indent=1)
