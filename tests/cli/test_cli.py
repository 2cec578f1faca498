import json

import pytest


def test_version(run_cli):
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("qd ")


def test_problems_lists_builtins(run_cli):
    proc = run_cli("problems")
    assert proc.returncode == 0
    for name in ("sphere_lp", "rastrigin_lp", "arm_repertoire", "maze_novelty", "circle_packing",
                 "bin_packing", "tsp", "tsp_rust", "python", "program"):
        assert name in proc.stdout


def test_evolve_sphere_lp_end_to_end(run_cli, tmp_path):
    out = tmp_path / "run"
    proc = run_cli("evolve", "sphere_lp", "--budget", "2000", "--seed", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "config.toml").is_file()
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["qd_score"] > 0 and rows[-1]["coverage"] > 0
    assert rows[-1]["evaluations"] >= 2000
    assert "seed = 1" in (out / "config.toml").read_text()
    assert "iter 10" in proc.stderr  # non-TTY progress lines
    assert "QD score" in proc.stdout


@pytest.mark.parametrize(
    "body,field",
    [
        ('[problem]\nname = "sphere_lp"\ndimm = 10\n', "dimm"),
        ('[problem]\nname = "sphere_lp"\ndim = "ten"\n', "problem.dim"),
        ('[problem]\nname = "sphere_lp"\n[run]\nbudget = -1\n', "run.budget"),
        ('[problem]\nname = "sphere_lpp"\n', "problem.name"),
        ('[problem\nname = 1\n', "invalid TOML"),
    ],
)
def test_bad_spec_exits_2_with_one_line(run_cli, tmp_path, body, field):
    (tmp_path / "problem.toml").write_text(body)
    proc = run_cli("evolve", str(tmp_path))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert field in lines[0]


def test_bad_flags_exit_2(run_cli):
    for args in (["evolve", "sphere_lp", "--device", "gpu"],
                 ["evolve", "sphere_lp", "--budget", "0"],
                 ["evolve", "sphere_lp", "--set", "nonsense"], ["evolve", "nope_problem"],
                 ["evolve", "sphere_lp", "--set", "run.budgt=3"]):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_cuda_without_gpu_is_a_clear_error(run_cli):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    proc = run_cli("evolve", "sphere_lp", "--device", "cuda", "--budget", "10")
    assert proc.returncode == 2
    assert "no CUDA GPU" in proc.stderr and "Traceback" not in proc.stderr


def test_set_and_quiet(run_cli, tmp_path):
    out = tmp_path / "r"
    proc = run_cli("evolve", "arm_repertoire", "--quiet", "--budget", "640", "--out", str(out),
                   "--set", "problem.joints=5", "--set", "archive.cells=[20,20]")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    config = (out / "config.toml").read_text()
    assert "joints = 5" in config


def test_existing_run_folder_exits_2(run_cli, tmp_path):
    args = ("evolve", "arm_repertoire", "-q", "--budget", "64", "--out", str(tmp_path / "r"))
    assert run_cli(*args).returncode == 0
    proc = run_cli(*args)
    assert proc.returncode == 2 and "already holds a run" in proc.stderr
