"""Procedural rooms: a box-shaped room shell with door, windows (+ curtains) and pictures, furnished with NYU-40
furniture, laid out from a seed without objects intersecting each other, the walls, or the camera's path.

World frame: metres, z up; the room interior is [0, W] x [0, D] x [0, H]. Walls are numbered 0..3:
wall 0 is y = 0, wall 1 is x = W, wall 2 is y = D, wall 3 is x = 0. Each wall has a local frame
(x along the wall, y into the room, z up) so that anything standing against it is built once, in that frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from slamseg.sequences.synthetic.furniture import FABRICS, FACTORIES, PAINTS, WOODS, Furniture, label, make_chair, pick
from slamseg.sequences.synthetic.geometry import MeshBuilder, Placement, SceneMesh, Texture, grid_quad

log = logging.getLogger(__name__)

SHELL_CELL = 0.25  # m, subdivision of walls/floor/ceiling (vertex density of the ground-truth mesh)
GAP = 0.03  # m, gap between furniture and walls / other furniture


@dataclass(frozen=True)
class Room:
    """A generated room.

    Attributes:
        mesh: the labelled scene mesh.
        size: interior (W, D, H) in metres.
        free_centre: (x, y) of the centre of the furniture-free zone the camera moves in.
        free_radii: (rx, ry) half-size in metres of the rectangle the camera path may use (inside the zone).
    """

    mesh: SceneMesh
    size: tuple[float, float, float]
    free_centre: tuple[float, float]
    free_radii: tuple[float, float]


def wall_frame(k: int, size: tuple[float, float, float]) -> tuple[np.ndarray, int, float]:
    """Origin (3,), quarter turns and length of wall ``k``'s local frame (x along the wall, y into the room)."""
    W, D, _ = size
    origins = [(0.0, 0.0, 0.0), (W, 0.0, 0.0), (W, D, 0.0), (0.0, D, 0.0)]
    return np.array(origins[k]), k, (W, D, W, D)[k]


class _Layout:
    """Book-keeping of occupied space: floor footprints (world AABBs) and wall spans (s, z boxes per wall)."""

    def __init__(self, size: tuple[float, float, float], keep_out: tuple[float, float, float, float]) -> None:
        self.size = size
        self.footprints: list[tuple[float, float, float, float]] = [keep_out]
        self.spans: dict[int, list[tuple[float, float, float, float]]] = {k: [] for k in range(4)}

    def footprint_free(self, fp: tuple[float, float, float, float]) -> bool:
        W, D, _ = self.size
        x0, y0, x1, y1 = fp
        if x0 < 0.01 or y0 < 0.01 or x1 > W - 0.01 or y1 > D - 0.01:
            return False
        return all(x1 + GAP <= a0 or a1 + GAP <= x0 or y1 + GAP <= b0 or b1 + GAP <= y0
                   for a0, b0, a1, b1 in self.footprints)

    def span_free(self, wall: int, s0: float, s1: float, z0: float, z1: float) -> bool:
        return all(s1 + GAP <= a0 or a1 + GAP <= s0 or z1 <= c0 or c1 <= z0 for a0, a1, c0, c1 in self.spans[wall])


def _footprint(parts_world: list[np.ndarray]) -> tuple[float, float, float, float]:
    pts = np.concatenate(parts_world)
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def _add_furniture(builder: MeshBuilder, item: Furniture, placement: Placement) -> None:
    oid = builder.new_object(item.name)
    for part in item.parts:
        builder.add(placement.apply(part.vertices), part.triangles, part.label, part.colour, part.texture, oid)


def _try_place(builder: MeshBuilder, layout: _Layout, item: Furniture, placement: Placement,
               wall: int | None = None, s: float = 0.0) -> bool:
    """Place ``item`` if its footprint (and wall span) is free; returns whether it was placed."""
    fp = _footprint([placement.apply(p.vertices) for p in item.parts])
    if not layout.footprint_free(fp):
        return False
    top = max(float(p.vertices[:, 2].max()) for p in item.parts)
    if wall is not None and not layout.span_free(wall, s, s + item.size[0], 0.0, top):
        return False
    layout.footprints.append(fp)
    if wall is not None:
        layout.spans[wall].append((s, s + item.size[0], 0.0, top))
    _add_furniture(builder, item, placement)
    return True


def _wall_item(builder: MeshBuilder, layout: _Layout, rng: np.random.Generator, kind: str, size: tuple,
               min_z: float, max_z: float, tries: int = 30) -> tuple[int, float, float, Placement] | None:
    """Find a free spot on some wall for a flat item of ``size`` = (width, height) whose bottom lies in
    [min_z, max_z]; returns (wall, s, z, placement of the wall frame at s) or None."""
    _W, _D, H = layout.size
    w, h = size
    for _ in range(tries):
        k = int(rng.integers(4))
        origin, turns, length = wall_frame(k, layout.size)
        if length < w + 0.4:
            continue
        s = rng.uniform(0.2, length - w - 0.2)
        z = rng.uniform(min_z, max_z)
        if z + h > H - 0.05 or not layout.span_free(k, s - 0.05, s + w + 0.05, z, z + h):
            continue
        placement = Placement(tuple(Placement((0, 0, 0), turns).apply(np.array([[s, 0.0, 0.0]]))[0] + origin), turns)
        return k, s, z, placement
    log.debug("no room for a %s on any wall", kind)
    return None


def _add_door(builder: MeshBuilder, layout: _Layout, rng: np.random.Generator) -> None:
    w, h = rng.uniform(0.8, 0.95), rng.uniform(2.0, 2.15)
    spot = _wall_item(builder, layout, rng, "door", (w, h), 0.0, 0.0)
    if spot is None:
        return
    k, s, _, pl = spot
    door = Furniture("door", (w, 0.05, h))
    wood = pick(rng, WOODS) if rng.random() < 0.6 else pick(rng, PAINTS[:2])
    door.box((-0.06, 0, 0), (w + 0.06, 0.03, h + 0.06), "door", wood * 0.8)
    door.box((0, 0.03, 0), (w, 0.05, h), "door", wood, Texture.WOOD)
    door.box((w - 0.12, 0.05, 1.0), (w - 0.06, 0.1, 1.03), "door", (0.75, 0.75, 0.7))
    _add_furniture(builder, door, pl)
    layout.spans[k].append((s - 0.06, s + w + 0.06, 0.0, h + 0.06))
    swing = pl.apply(np.array([[0.0, 0.0, 0.0], [w, 0.9, 0.0]]))  # keep the door's swing free of furniture
    layout.footprints.append((*swing[:, :2].min(0), *swing[:, :2].max(0)))


def _add_window(builder: MeshBuilder, layout: _Layout, rng: np.random.Generator) -> None:
    w, h = rng.uniform(0.8, 1.6), rng.uniform(0.9, 1.4)
    curtains = rng.random() < 0.5
    pad = 0.3 if curtains else 0.0
    spot = _wall_item(builder, layout, rng, "window", (w + 2 * pad, h + 0.2), 0.7, 1.0)
    if spot is None:
        return
    k, s, z, pl = spot
    win = Furniture("window", (w, 0.05, h))
    x0 = pad
    frame = np.array([0.95, 0.95, 0.93])
    win.box((x0, 0, z), (x0 + w, 0.02, z + h), "window", (0.75, 0.85, 0.95), Texture.SKY)
    for lo, hi in [((x0 - 0.05, 0, z - 0.05), (x0 + w + 0.05, 0.05, z)),  # sill and frame bars
                   ((x0 - 0.05, 0, z + h), (x0 + w + 0.05, 0.05, z + h + 0.05)),
                   ((x0 - 0.05, 0, z), (x0, 0.05, z + h)), ((x0 + w, 0, z), (x0 + w + 0.05, 0.05, z + h)),
                   ((x0 + w / 2 - 0.02, 0, z), (x0 + w / 2 + 0.02, 0.04, z + h))]:
        win.box(lo, hi, "window", frame)
    if curtains:
        c = pick(rng, FABRICS)
        for a in (x0 - 0.28, x0 + w + 0.06):
            win.box((a, 0.07, z - 0.15), (a + 0.22, 0.1, min(z + h + 0.2, layout.size[2] - 0.02)), "curtain", c,
                    Texture.FABRIC)
    _add_furniture(builder, win, pl)
    layout.spans[k].append((s, s + w + 2 * pad, z - 0.2, z + h + 0.2))
    # curtains hang low: keep furniture of the neighbouring walls out of their floor footprint too
    strip = pl.apply(np.array([[0.0, 0.0, 0.0], [w + 2 * pad, 0.12, 0.0]]))
    layout.footprints.append((*strip[:, :2].min(0), *strip[:, :2].max(0)))


def _add_picture(builder: MeshBuilder, layout: _Layout, rng: np.random.Generator) -> None:
    w, h = rng.uniform(0.3, 1.0), rng.uniform(0.3, 0.8)
    spot = _wall_item(builder, layout, rng, "picture", (w, h), 1.1, 1.6)
    if spot is None:
        return
    k, s, z, pl = spot
    pic = Furniture("picture", (w, 0.03, h))
    pic.box((0, 0, z), (w, 0.02, z + h), "picture", pick(rng, WOODS + 0.1) * 0.6)
    pic.box((0.03, 0.02, z + 0.03), (w - 0.03, 0.025, z + h - 0.03), "picture", rng.uniform(0.2, 0.9, 3),
            Texture.PICTURE)
    _add_furniture(builder, pic, pl)
    layout.spans[k].append((s, s + w, z, z + h))


def _add_shell(builder: MeshBuilder, rng: np.random.Generator, size: tuple[float, float, float]) -> None:
    W, D, H = size
    wall_colour = pick(rng, np.array([[0.90, 0.88, 0.82], [0.80, 0.85, 0.88], [0.88, 0.82, 0.75],
                                      [0.78, 0.85, 0.76], [0.93, 0.93, 0.93]]), 0.03)
    floor_colour = pick(rng, WOODS) if rng.random() < 0.6 else pick(rng, PAINTS[[1, 4]])
    builder.add(*grid_quad((0, 0, 0), (W, 0, 0), (0, D, 0), SHELL_CELL), label("floor"), floor_colour,
                Texture.TILES, 0)
    builder.add(*grid_quad((0, 0, H), (0, D, 0), (W, 0, 0), SHELL_CELL), label("ceiling"), (0.95, 0.95, 0.95),
                Texture.PLAIN, 0)
    for k in range(4):
        origin, turns, length = wall_frame(k, size)
        along = Placement((0, 0, 0), turns).rotation[:, 0] * length
        builder.add(*grid_quad(origin, (0, 0, H), along, SHELL_CELL), label("wall"), wall_colour, Texture.PLAIN, 0)


def generate_room(seed: int = 0, furniture: bool = True) -> Room:
    """A furnished room, fully determined by ``seed``.

    Args:
        seed: random seed (layout, sizes, colours, textures).
        furniture: False gives the bare shell with door, windows and pictures (useful for analytic tests).
    """
    rng = np.random.default_rng(seed)
    size = (float(rng.uniform(4.5, 7.0)), float(rng.uniform(4.0, 6.0)), float(rng.uniform(2.5, 3.0)))
    W, D, _H = size
    centre = (W / 2, D / 2)
    radii = (min(0.6, 0.12 * W), min(0.6, 0.12 * D))
    margin = 0.45  # furniture stays this far from the camera path
    keep_out = (centre[0] - radii[0] - margin, centre[1] - radii[1] - margin,
                centre[0] + radii[0] + margin, centre[1] + radii[1] + margin)
    builder = MeshBuilder()
    layout = _Layout(size, keep_out)
    _add_shell(builder, rng, size)
    _add_door(builder, layout, rng)
    for _ in range(int(rng.integers(1, 3))):
        _add_window(builder, layout, rng)
    if furniture:
        _furnish(builder, layout, rng)
        if rng.random() < 0.6:  # a rug under the camera path (thin, so it cannot get in the camera's way)
            rug = Furniture("floor mat", (1.6, 1.1, 0.01))
            rw, rd = rng.uniform(1.2, 2.0), rng.uniform(0.8, 1.4)
            rug.box((centre[0] - rw / 2, centre[1] - rd / 2, 0), (centre[0] + rw / 2, centre[1] + rd / 2, 0.01),
                    "floor mat", pick(rng, FABRICS), Texture.FABRIC)
            _add_furniture(builder, rug, Placement((0, 0, 0), 0))
    for _ in range(int(rng.integers(1, 5))):
        _add_picture(builder, layout, rng)
    return Room(builder.build(size), size, centre, radii)


def _furnish(builder: MeshBuilder, layout: _Layout, rng: np.random.Generator) -> None:
    names = list(FACTORIES)
    weights = np.array([FACTORIES[n][2] for n in names])
    count = int(rng.integers(6, 11))
    chosen = rng.choice(names, size=count, replace=True, p=weights / weights.sum())
    unique = {"bed", "sofa", "television", "desk"}
    placed: set[str] = set()
    for name in chosen:
        name = str(name)
        if name in unique and name in placed:
            continue
        factory, on_wall, _ = FACTORIES[name]
        item = factory(rng)
        for _ in range(40):
            if on_wall or rng.random() < 0.3:
                k = int(rng.integers(4))
                origin, turns, length = wall_frame(k, layout.size)
                if length < item.size[0] + 0.1:
                    continue
                s = float(rng.uniform(0.05, length - item.size[0] - 0.05))
                pl = Placement(tuple(Placement((0, 0, 0), turns).apply(np.array([[s, GAP, 0.0]]))[0] + origin), turns)
                ok = _try_place(builder, layout, item, pl, wall=k, s=s)
            else:
                turns = int(rng.integers(4))
                W, D, _ = layout.size
                pl = Placement((float(rng.uniform(0.1, W - 0.1)), float(rng.uniform(0.1, D - 0.1)), 0.0), turns)
                ok = _try_place(builder, layout, item, pl)
            if ok:
                placed.add(name)
                if name in ("table", "desk"):
                    _chairs_at(builder, layout, rng, item, pl, both_sides=name == "table")
                break


def _chairs_at(builder: MeshBuilder, layout: _Layout, rng: np.random.Generator, table: Furniture,
               table_pl: Placement, both_sides: bool) -> None:
    """Chairs facing a table/desk: in front of its +y side (and behind its y = 0 side for tables)."""
    w, d, _ = table.size
    sides = [(d + 0.1, 2)] + ([(-0.1, 0)] if both_sides else [])
    for y_edge, extra_turns in sides:
        chair = make_chair(rng)
        cw, cd, _ = chair.size
        # chair local frame: back at y = 0, facing +y; turned by 180 degrees it faces -y (towards the table)
        if extra_turns == 2:
            local = np.array([w / 2 + cw / 2, y_edge + cd, 0.0])
        else:
            local = np.array([w / 2 - cw / 2, y_edge - cd, 0.0])
        origin = table_pl.apply(local[None])[0]
        _try_place(builder, layout, chair, Placement(tuple(origin), table_pl.quarter_turns + extra_turns))


__all__ = ["Room", "generate_room", "wall_frame"]
