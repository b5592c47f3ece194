from transit.geometry import simplify


def test_simplify_drops_points_on_the_line_and_keeps_corners():
    straight = [(52.0, 4.0 + i * 0.001) for i in range(50)]
    assert simplify(straight, 1.0) == [straight[0], straight[-1]]
    corner = straight + [(52.0 + i * 0.001, 4.049) for i in range(1, 50)]
    assert simplify(corner, 1.0) == [(52.0, 4.0), (52.0, 4.049), (52.049, 4.049)]


def test_simplify_keeps_what_deviates_more_than_the_tolerance():
    bump = [(52.0, 4.0), (52.00005, 4.001), (52.0, 4.002)]  # the middle point is 5.6 m off the line
    assert simplify(bump, 5.0) == bump
    assert simplify(bump, 6.0) == [bump[0], bump[-1]]
    assert simplify(bump[:2], 100.0) == bump[:2]
