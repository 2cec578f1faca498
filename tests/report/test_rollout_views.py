"""Rollout views of the MuJoCo tasks (ant_omni paths, walker2d_uni gait diagrams) from real
small runs: the data against the stored archive, and the drawings in headless Chromium."""

from __future__ import annotations

from contextlib import closing

import numpy as np
import pytest
import torch

import qd
from problems import problem_registry
from qd.report.gait import GAITS, contact_runs, diverse_elites, gait_data
from qd.report.source import open_run_store, read_run_files
from qd.report.trajectories import TRAJECTORIES, path_data
from qd.report.views import view_context, view_registry
from tests.report.conftest import assert_offline_and_clean

ANT_STEPS = 50
WALKER_STEPS = 25


@pytest.fixture(scope="module")
def ant_run(tmp_path_factory):
    """ant_omni, 50-step episodes, a small MLP, 4 batches of 32 (~3 s); the ant moves well
    under a metre, so the grid is fine (0.3 m cells) to hold more elites than paths drawn."""
    out = tmp_path_factory.mktemp("ant") / "run"
    qd.evolve({"problem": {"name": "ant_omni", "episode_length": ANT_STEPS, "hidden": [8],
                           "init": "lecun_uniform"},
               "archive": {"name": "grid", "cells": [200, 200]},
               "emitters": [{"name": "gaussian", "batch_size": 32, "sigma": 0.5}],
               "run": {"budget": 128, "seed": 1}}, out=out)
    return out


@pytest.fixture(scope="module")
def walker_run(tmp_path_factory):
    """walker2d_uni, 25-step episodes, 6 batches of 16 (~1 s)."""
    out = tmp_path_factory.mktemp("walker") / "run"
    qd.evolve({"problem": {"name": "walker2d_uni", "episode_length": WALKER_STEPS},
               "archive": {"name": "cvt", "centroids": 32, "samples": 2000},
               "emitters": [{"name": "iso_line", "batch_size": 16, "iso_sigma": 0.05,
                             "line_sigma": 0.1}],
               "run": {"budget": 96, "seed": 3}}, out=out)
    return out


def context_of(run):
    files = read_run_files(run)
    store = open_run_store(files.path)
    return closing(store), view_context(files, store)


def test_every_declared_view_has_a_renderer():
    declared = {name: cls.rollout_views for name, cls in problem_registry.items()
                if getattr(cls, "rollout_views", ())}
    assert declared["maze_navigation"] == ("paths",)
    assert declared["ant_omni"] == ("paths",)
    for name in ("walker2d_uni", "hopper_uni", "halfcheetah_uni", "ant_uni", "humanoid_uni"):
        assert declared[name] == ("gait",)
    for views in declared.values():
        for view in views:
            assert view in view_registry


def test_ant_paths_are_resimulated_episodes_ending_at_the_measures(ant_run):
    store, context = context_of(ant_run)
    with store:
        data = path_data(context)
        table = context.table
        problem = context.problem
        best = np.argsort(-table["objective"], kind="stable")[:TRAJECTORIES]
        episodes = problem.episodes(torch.from_numpy(context.solutions(best)))
    assert len(table["objective"]) > TRAJECTORIES
    assert data["label"] == "measure box" and data["goal"] is None and data["fit"]
    assert sorted(map(tuple, data["walls"])) == sorted(
        [(-30.0, -30.0, 30.0, -30.0), (30.0, -30.0, 30.0, 30.0), (30.0, 30.0, -30.0, 30.0),
         (-30.0, 30.0, -30.0, -30.0)])
    assert data["start"] == problem.qpos0[:2].tolist()
    assert [p["index"] for p in data["paths"]] == table["index"][best].tolist()
    counted = episodes.counted.sum(axis=1)
    assert counted.min() < ANT_STEPS  # some of these ants fall: paths stop at their fall
    for n, (path, i) in enumerate(zip(data["paths"], best, strict=True)):
        xy = np.stack([path["x"], path["y"]], axis=1)
        assert path["objective"] == table["objective"][i]
        assert len(xy) == counted[n]  # one point per counted step: the state before it
        assert xy[0].tolist() == data["start"]  # the start state
        stored = [table["measure_0"][i], table["measure_1"][i]]
        assert path["measures"] == stored
        np.testing.assert_array_equal(np.clip(xy[-1], -30.0, 30.0), stored)


def test_walker_gaits_give_the_stored_contact_fractions(walker_run):
    store, context = context_of(walker_run)
    with store:
        data = gait_data(context)
        rows = diverse_elites(context)
        table = context.table
        measures = context.measures(np.arange(len(table["objective"])))
    assert data["feet"] == ["foot", "foot_left"]
    assert len(data["elites"]) == GAITS
    assert data["elites"][0]["objective"] == table["objective"].max()  # the best first
    assert len({e["index"] for e in data["elites"]}) == GAITS
    for elite, row in zip(data["elites"], rows, strict=True):
        assert elite["index"] == table["index"][row]
        assert elite["fractions"] == measures[row].tolist() == elite["measures"]  # exactly
        assert 1 <= elite["steps"] <= WALKER_STEPS
        for runs, fraction in zip(elite["runs"], elite["fractions"], strict=True):
            covered = [t for start, length in runs for t in range(start, start + length)]
            assert len(covered) == len(set(covered)) and max(covered, default=0) < elite["steps"]
            assert len(covered) / elite["steps"] == fraction
    assert any(e["steps"] < WALKER_STEPS for e in data["elites"])  # one fell early
    assert sum(len(runs) for e in data["elites"] for runs in e["runs"]) > GAITS


def test_distinct_elites_are_farthest_first(walker_run):
    store, context = context_of(walker_run)
    with store:
        rows = diverse_elites(context, 6)
        measures = context.measures(np.arange(len(context.table["objective"])))
    for n in range(1, len(rows)):  # each pick maximises the distance to those before it
        gaps = np.linalg.norm(measures[:, None] - measures[rows[:n]][None], axis=2).min(axis=1)
        assert gaps[rows[n]] == gaps.max() and gaps[rows[n]] > 0


def test_contact_runs():
    touching = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], dtype=bool)
    assert contact_runs(touching) == [[0, 2], [3, 1], [6, 3]]
    assert contact_runs(np.zeros(4, dtype=bool)) == []
    assert contact_runs(np.ones(3, dtype=bool)) == [[0, 3]]


def test_ant_paths_draw_in_chromium(ant_run, open_report):
    page, messages, requests, path = open_report(ant_run)
    assert page.locator("#trajectories tbody tr").count() == TRAJECTORIES
    # the measure box, one line per path and the start (no goal)
    assert page.eval_on_selector("#trajectory-paths", "gd => gd._fullData.length") \
        == 1 + TRAJECTORIES + 1
    lines = page.eval_on_selector_all(
        "#trajectory-paths .scatterlayer .trace",
        "ts => ts.map(t => t.querySelectorAll('path.js-line').length)")
    assert lines == [4] + [1] * TRAJECTORIES + [0]  # the box's 4 edges, each path, the start
    ends = page.eval_on_selector_all(
        "#trajectory-paths .scatterlayer .trace path.point",
        "els => els.filter(e => e.getBBox().width > 4).length")
    assert ends == TRAJECTORIES + 1  # each path's end marker, and the start
    x_range = page.eval_on_selector("#trajectory-paths", "gd => gd._fullLayout.xaxis.range")
    assert x_range[1] - x_range[0] < 10  # zoomed to the paths, not the 60 m box
    assert_offline_and_clean(messages, requests, path)


def test_walker_gaits_draw_in_chromium(walker_run, open_report):
    page, messages, requests, path = open_report(walker_run)
    assert page.locator("#gait tbody tr").count() == GAITS
    figures = page.locator("#gait div.plot")
    assert figures.count() == GAITS
    steps = [int(figures.nth(n).get_attribute("data-steps")) for n in range(GAITS)]
    for n in range(GAITS):
        figure = figures.nth(n)
        key = figure.get_attribute("id")
        bars = int(figure.get_attribute("data-bars"))
        drawn = page.locator(f"#{key} .barlayer .point path")
        assert drawn.count() == bars  # one filled bar per contact run
        assert page.eval_on_selector(f"#{key}", "gd => gd._fullData.length") == 2  # feet
        ended = page.locator(f"#{key} .shapelayer path").count()
        assert ended == (1 if steps[n] < max(steps) else 0)  # where a fallen walker stopped
    assert_offline_and_clean(messages, requests, path)
