import pytest
import torch

from qd.policies import MLPArchitecture


def reference_outputs(arch, params, obs):
    """Run each individual through its own torch.nn network, one at a time."""
    rows = []
    for p, o in zip(params, obs, strict=True):
        net = arch.reference()
        torch.nn.utils.vector_to_parameters(p, net.parameters())
        with torch.no_grad():
            rows.append(net(o.unsqueeze(0))[0])
    return torch.stack(rows)


@pytest.mark.parametrize(
    "sizes,activation,output",
    [
        ((10, 2), "tanh", "tanh"),
        ((10, 8, 2), "tanh", "tanh"),
        ((5, 16, 7, 3), "relu", "identity"),
        ((4, 6, 6, 2), "elu", "sigmoid"),
    ],
)
def test_batched_forward_equals_torch_nn_reference(sizes, activation, output):
    arch = MLPArchitecture(sizes, activation, output)
    gen = torch.Generator().manual_seed(len(sizes))
    params = torch.randn(37, arch.num_params, generator=gen, dtype=torch.float64)
    obs = torch.randn(37, sizes[0], generator=gen, dtype=torch.float64)
    batched = arch.unflatten(params)(obs)
    assert batched.shape == (37, sizes[-1])
    torch.testing.assert_close(batched, reference_outputs(arch, params, obs), rtol=0, atol=1e-12)


def test_num_params_matches_torch_nn():
    arch = MLPArchitecture((10, 8, 2))
    assert arch.num_params == sum(p.numel() for p in arch.reference().parameters()) == 106


def test_individuals_are_independent():
    arch = MLPArchitecture((3, 4, 2))
    gen = torch.Generator().manual_seed(0)
    params = torch.randn(2, arch.num_params, generator=gen, dtype=torch.float64)
    obs = torch.randn(1, 3, generator=gen, dtype=torch.float64).expand(2, 3)
    out = arch.unflatten(params)(obs)
    alone = arch.unflatten(params[1:])(obs[1:])
    assert not torch.allclose(out[0], out[1])
    torch.testing.assert_close(out[1:], alone, rtol=0, atol=1e-14)


def test_wrong_parameter_shape_is_a_clear_error():
    arch = MLPArchitecture((3, 2))
    with pytest.raises(ValueError, match=r"shape \(B, 8\), got \(4, 7\)"):
        arch.unflatten(torch.zeros(4, 7))
    with pytest.raises(ValueError, match="2 positive layer sizes"):
        MLPArchitecture((3,))
