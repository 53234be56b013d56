import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fwcourse.course import viz  # noqa: E402


def test_frame_indices_are_evenly_spaced_and_keep_both_ends():
    assert viz.frame_indices(5, 8) == [0, 1, 2, 3, 4]
    picks = viz.frame_indices(100, 6)
    assert picks[0] == 0 and picks[-1] == 99 and len(picks) == 6
    assert np.all(np.diff(picks) > 0)
    with pytest.raises(ValueError, match="n_frames"):
        viz.frame_indices(0, 3)


def test_color_limit_is_shared_and_symmetric():
    frames = np.array([[[1.0, -3.0]], [[2.0, 0.5]]])
    assert viz.color_limit(frames) == 3.0
    assert viz.color_limit(np.zeros((2, 2))) == 1.0
    assert viz.color_limit(np.ones((2, 2)), np.array([[-5.0, np.nan]]), np.zeros(3)) == 5.0


def test_compared_heatmaps_share_one_colour_scale():
    small, large = np.full((3, 3), 0.1), np.array([[2.0, -4.0], [1.0, 0.0]])
    fig, axes = plt.subplots(1, 2)
    images = viz.heatmaps([small, large], axes, titles=["sum", "delta"])
    assert [image.get_clim() for image in images] == [(-4.0, 4.0), (-4.0, 4.0)]
    assert [ax.get_title() for ax in axes] == ["sum", "delta"]
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    assert {image.get_clim() for image in viz.heatmaps([small, large], axes, limit=10.0)} == {(-10.0, 10.0)}
    with pytest.raises(ValueError, match="one axes per matrix"):
        viz.heatmaps([small, large], axes[:1])
    plt.close(fig)


@pytest.mark.parametrize("n_panels,grid", [(2, (1, 2)), (3, (1, 3)), (5, (2, 3)), (6, (2, 3)), (8, (2, 4)),
                                           (9, (3, 3))])
def test_a_grid_of_frames_has_exactly_one_axes_per_panel(n_panels, grid):
    frames = np.random.default_rng(0).standard_normal((9, 2, 3))
    fig = viz.matrix_figure(frames, list(range(n_panels)), columns=4)
    assert len(fig.axes) == n_panels and all(ax.images for ax in fig.axes)  # no empty or hidden axes
    assert {ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes} == {grid}  # balanced rows
    plt.close(fig)


def test_matrix_figure_draws_the_requested_frame_on_the_shared_scale():
    frames = np.stack([np.full((3, 4), t, float) for t in range(5)])
    fig = viz.matrix_figure(frames, 2)
    image = fig.axes[0].images[0]
    np.testing.assert_array_equal(image.get_array(), frames[2])
    assert image.get_clim() == (-4.0, 4.0)
    plt.close(fig)
    grid = viz.matrix_figure(frames, [0, 2, 4], titles=[f"f{t}" for t in range(5)])
    assert [ax.get_title() for ax in grid.axes if ax.images] == ["f0", "f2", "f4"]
    plt.close(grid)


def test_matrix_figure_rejects_bad_input():
    with pytest.raises(ValueError, match="frames must have 2 or 3 dimensions"):
        viz.matrix_figure(np.zeros(3), 0)
    with pytest.raises(ValueError, match="t must be a frame number"):
        viz.matrix_figure(np.zeros((2, 3, 3)), 5)
    with pytest.raises(ValueError, match="titles"):
        viz.matrix_figure(np.zeros((2, 3, 3)), 0, titles=["only one"])
    with pytest.raises(ValueError, match="at least one frame"):
        viz.matrix_figure(np.zeros((2, 3, 3)), [])


def test_without_a_widget_front_end_the_player_shows_a_static_grid(monkeypatch):
    shown = []
    monkeypatch.setattr(viz, "_show", shown.append)
    assert not viz.widgets_available()  # a plain pytest process has no kernel
    assert viz.matrix_player(np.random.default_rng(0).standard_normal((20, 3, 3))) is None
    assert len(shown) == 1 and sum(bool(ax.images) for ax in shown[0].axes) == 8
    drawn = []
    viz.frame_player(lambda t: drawn.append(t) or plt.figure(), 10, max_static=3)
    assert drawn == [0, 4, 9] or drawn == [0, 5, 9]


def test_static_can_be_forced(monkeypatch):
    monkeypatch.setenv(viz.STATIC_ENV, "1")
    assert not viz.widgets_available()
