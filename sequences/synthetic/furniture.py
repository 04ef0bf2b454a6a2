"""Procedural furniture of the NYU-40 classes, built from boxes and cylinders in a local frame.

Local frame of every piece: the footprint is [0, width] x [0, depth] on the floor (z = 0), x along the wall it
stands against, y away from the wall (the front faces +y), z up. ``room.py`` places pieces with a
:class:`~slamseg.sequences.synthetic.geometry.Placement`. Sizes are metres; each factory draws sizes, colours and
details from the generator it is given, so a seed fixes the whole room.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from slamseg.sequences.labelsets import get_label_set
from slamseg.sequences.synthetic.geometry import Texture, box_mesh, cylinder_mesh

_NYU40 = get_label_set("nyu40")


def label(name: str) -> int:
    """NYU-40 id of a class name."""
    return _NYU40.id_of(name)


@dataclass(frozen=True)
class Part:
    """One labelled piece of geometry in the local frame."""

    vertices: np.ndarray
    triangles: np.ndarray
    label: int
    colour: np.ndarray
    texture: Texture


@dataclass
class Furniture:
    """A furniture item: its name, local footprint size (width, depth, height) and parts."""

    name: str
    size: tuple[float, float, float]
    parts: list[Part] = field(default_factory=list)

    def box(self, lo, hi, cls: str, colour, texture: Texture = Texture.PLAIN) -> None:
        """Add an axis-aligned box part from corner ``lo`` to ``hi`` labelled ``cls``."""
        v, t = box_mesh(np.asarray(lo, float), np.asarray(hi, float))
        self.parts.append(Part(v, t, label(cls), np.asarray(colour, np.float32), texture))

    def cylinder(self, xy, radius: float, z0: float, z1: float, cls: str, colour,
                 texture: Texture = Texture.PLAIN) -> None:
        """Add a vertical cylinder part labelled ``cls``."""
        v, t = cylinder_mesh(np.asarray(xy, float), radius, z0, z1)
        self.parts.append(Part(v, t, label(cls), np.asarray(colour, np.float32), texture))


# Palettes (sRGB in [0, 1]); a drawn colour gets a small random jitter so no two rooms look the same.
WOODS = np.array([[0.55, 0.38, 0.22], [0.70, 0.52, 0.33], [0.40, 0.26, 0.15], [0.80, 0.66, 0.47], [0.30, 0.20, 0.12]])
FABRICS = np.array([[0.55, 0.15, 0.15], [0.20, 0.30, 0.55], [0.35, 0.50, 0.30], [0.60, 0.55, 0.45],
                    [0.35, 0.35, 0.38], [0.75, 0.60, 0.30], [0.45, 0.25, 0.45]])
PAINTS = np.array([[0.92, 0.92, 0.88], [0.85, 0.85, 0.80], [0.30, 0.30, 0.32], [0.95, 0.95, 0.95],
                   [0.60, 0.65, 0.70], [0.15, 0.15, 0.15]])


def pick(rng: np.random.Generator, palette: np.ndarray, jitter: float = 0.05) -> np.ndarray:
    """A palette colour with a little random jitter, clipped to [0, 1]."""
    return np.clip(palette[rng.integers(len(palette))] + rng.uniform(-jitter, jitter, 3), 0.0, 1.0)


def make_bed(rng: np.random.Generator) -> Furniture:
    """Bed with frame, mattress, headboard against the wall (y = 0) and pillows."""
    w, d = rng.uniform(1.0, 1.8), rng.uniform(1.9, 2.1)
    f = Furniture("bed", (w, d, 1.0))
    wood, sheet = pick(rng, WOODS), pick(rng, FABRICS)
    f.box((0, 0, 0), (w, d, 0.3), "bed", wood, Texture.WOOD)
    f.box((0.02, 0.05, 0.3), (w - 0.02, d - 0.02, 0.52), "bed", sheet, Texture.FABRIC)
    f.box((0, 0, 0.3), (w, 0.05, 1.0), "bed", wood, Texture.WOOD)
    n_pillows = 2 if w > 1.3 else 1
    pw = (w - 0.2) / n_pillows
    for k in range(n_pillows):
        x0 = 0.1 + k * pw
        f.box((x0 + 0.03, 0.1, 0.52), (x0 + pw - 0.03, 0.5, 0.64), "pillow", pick(rng, PAINTS[:2], 0.03),
              Texture.FABRIC)
    return f


def make_night_stand(rng: np.random.Generator) -> Furniture:
    """Night stand with a table lamp on it."""
    w, d, h = rng.uniform(0.4, 0.55), rng.uniform(0.35, 0.45), rng.uniform(0.45, 0.6)
    f = Furniture("night stand", (w, d, h + 0.45))
    f.box((0, 0, 0), (w, d, h), "night stand", pick(rng, WOODS), Texture.WOOD)
    f.box((0.05, d - 0.005, h * 0.55), (w - 0.05, d + 0.01, h * 0.6), "night stand", pick(rng, WOODS))
    _table_lamp(f, rng, (w / 2, d / 2), h)
    return f


def _table_lamp(f: Furniture, rng: np.random.Generator, xy: tuple[float, float], z: float) -> None:
    shade = pick(rng, PAINTS[:2] * 0.95 + 0.03)
    f.cylinder(xy, 0.07, z, z + 0.03, "lamp", pick(rng, PAINTS[2:]))
    f.cylinder(xy, 0.015, z + 0.03, z + 0.28, "lamp", pick(rng, PAINTS[2:]))
    f.cylinder(xy, 0.12, z + 0.25, z + 0.43, "lamp", shade, Texture.FABRIC)


def make_floor_lamp(rng: np.random.Generator) -> Furniture:
    """Floor lamp: base disc, pole, shade."""
    h = rng.uniform(1.4, 1.7)
    f = Furniture("lamp", (0.4, 0.4, h))
    metal = pick(rng, PAINTS[2:])
    f.cylinder((0.2, 0.2), 0.16, 0.0, 0.03, "lamp", metal)
    f.cylinder((0.2, 0.2), 0.02, 0.03, h - 0.25, "lamp", metal)
    f.cylinder((0.2, 0.2), 0.19, h - 0.3, h, "lamp", pick(rng, PAINTS[:2] * 0.95 + 0.03), Texture.FABRIC)
    return f


def make_sofa(rng: np.random.Generator) -> Furniture:
    """Sofa: base, back rest against the wall, arm rests, seat cushions and a pillow."""
    w, d = rng.uniform(1.6, 2.4), rng.uniform(0.85, 1.0)
    f = Furniture("sofa", (w, d, 0.85))
    c = pick(rng, FABRICS)
    f.box((0, 0, 0.05), (w, d, 0.42), "sofa", c * 0.9, Texture.FABRIC)
    f.box((0, 0, 0.42), (w, 0.22, 0.85), "sofa", c, Texture.FABRIC)
    f.box((0, 0.22, 0.42), (0.18, d, 0.65), "sofa", c, Texture.FABRIC)
    f.box((w - 0.18, 0.22, 0.42), (w, d, 0.65), "sofa", c, Texture.FABRIC)
    n = 2 if w < 2.0 else 3
    cw = (w - 0.36) / n
    for k in range(n):
        x0 = 0.18 + k * cw
        f.box((x0 + 0.01, 0.22, 0.42), (x0 + cw - 0.01, d - 0.02, 0.52), "sofa", c * 1.05, Texture.FABRIC)
    f.box((0.22, 0.24, 0.52), (0.62, 0.38, 0.85), "pillow", pick(rng, FABRICS), Texture.FABRIC)
    for x in (0.05, w - 0.1):
        for y in (0.05, d - 0.1):
            f.box((x, y, 0), (x + 0.05, y + 0.05, 0.05), "sofa", pick(rng, WOODS))
    return f


def _legs(f: Furniture, cls: str, w: float, d: float, h: float, t: float, colour) -> None:
    for x in (0.0, w - t):
        for y in (0.0, d - t):
            f.box((x, y, 0), (x + t, y + t, h), cls, colour, Texture.WOOD)


def make_table(rng: np.random.Generator) -> Furniture:
    """Dining/coffee table: top on four legs, sometimes with books or a box on it."""
    w, d = rng.uniform(0.9, 1.6), rng.uniform(0.6, 0.9)
    h = rng.uniform(0.45, 0.5) if rng.random() < 0.3 else rng.uniform(0.72, 0.78)
    f = Furniture("table", (w, d, h))
    wood = pick(rng, WOODS)
    f.box((0, 0, h - 0.04), (w, d, h), "table", wood, Texture.WOOD)
    _legs(f, "table", w, d, h - 0.04, 0.05, wood * 0.9)
    if rng.random() < 0.6:
        _book_pile(f, rng, (w * rng.uniform(0.2, 0.6), d * 0.3), h)
    return f


def _book_pile(f: Furniture, rng: np.random.Generator, xy: tuple[float, float], z: float) -> None:
    for _ in range(int(rng.integers(1, 4))):
        bw, bd, bh = rng.uniform(0.15, 0.25), rng.uniform(0.2, 0.3), rng.uniform(0.02, 0.05)
        f.box((xy[0], xy[1], z), (xy[0] + bw, xy[1] + bd, z + bh), "books", rng.uniform(0.1, 0.9, 3))
        z += bh


def make_chair(rng: np.random.Generator) -> Furniture:
    """Chair: seat, four legs, back rest at y = 0 (so the seat faces +y)."""
    w, d = rng.uniform(0.42, 0.5), rng.uniform(0.42, 0.5)
    seat, back = rng.uniform(0.43, 0.48), rng.uniform(0.85, 1.0)
    f = Furniture("chair", (w, d, back))
    c = pick(rng, WOODS) if rng.random() < 0.6 else pick(rng, PAINTS[2:])
    f.box((0, 0, seat - 0.04), (w, d, seat), "chair", c, Texture.WOOD)
    _legs(f, "chair", w, d, seat - 0.04, 0.04, c * 0.9)
    f.box((0, 0, seat), (w, 0.04, back), "chair", c, Texture.WOOD)
    return f


def make_desk(rng: np.random.Generator) -> Furniture:
    """Desk: top on two side panels with a drawer block, books and a table lamp on it."""
    w, d, h = rng.uniform(1.1, 1.6), rng.uniform(0.55, 0.75), rng.uniform(0.72, 0.76)
    f = Furniture("desk", (w, d, h + 0.45))
    c = pick(rng, WOODS) if rng.random() < 0.5 else pick(rng, PAINTS)
    f.box((0, 0, h - 0.03), (w, d, h), "desk", c, Texture.WOOD)
    f.box((0, 0, 0), (0.03, d, h - 0.03), "desk", c * 0.92, Texture.WOOD)
    f.box((w - 0.03, 0, 0), (w, d, h - 0.03), "desk", c * 0.92, Texture.WOOD)
    f.box((w - 0.45, 0.02, 0.1), (w - 0.03, d - 0.02, h - 0.03), "desk", c * 0.95, Texture.WOOD)
    _book_pile(f, rng, (0.1, 0.08), h)
    _table_lamp(f, rng, (w - 0.2, 0.18), h)
    return f


def make_cabinet(rng: np.random.Generator) -> Furniture:
    """Cabinet with two doors (split line) and handles."""
    w, d, h = rng.uniform(0.6, 1.2), rng.uniform(0.4, 0.6), rng.uniform(0.8, 1.9)
    f = Furniture("cabinet", (w, d, h))
    c = pick(rng, WOODS) if rng.random() < 0.5 else pick(rng, PAINTS)
    f.box((0, 0, 0), (w, d, h), "cabinet", c, Texture.WOOD)
    f.box((w / 2 - 0.005, d, 0.05), (w / 2 + 0.005, d + 0.005, h - 0.05), "cabinet", c * 0.5)
    for x in (w / 2 - 0.06, w / 2 + 0.04):
        f.box((x, d, h * 0.5), (x + 0.02, d + 0.03, h * 0.5 + 0.12), "cabinet", pick(rng, PAINTS[2:]))
    return f


def make_bookshelf(rng: np.random.Generator) -> Furniture:
    """Open bookshelf (sides, back, shelves) filled with books of varied sizes and colours."""
    w, d, h = rng.uniform(0.7, 1.2), rng.uniform(0.28, 0.38), rng.uniform(1.4, 2.0)
    f = Furniture("bookshelf", (w, d, h))
    c = pick(rng, WOODS)
    t = 0.02
    f.box((0, 0, 0), (t, d, h), "bookshelf", c, Texture.WOOD)
    f.box((w - t, 0, 0), (w, d, h), "bookshelf", c, Texture.WOOD)
    f.box((t, 0, 0), (w - t, t, h), "bookshelf", c * 0.85, Texture.WOOD)
    n_shelves = int(h / 0.35)
    levels = np.linspace(0.0, h - t, n_shelves + 1)
    for z in levels:
        f.box((t, t, z), (w - t, d, z + t), "bookshelf", c, Texture.WOOD)
    for z0, z1 in itertools.pairwise(levels):
        x = t + rng.uniform(0.0, 0.05)
        while x < w - t - 0.06:
            bw = rng.uniform(0.02, 0.05)
            bh = min(rng.uniform(0.17, 0.28), z1 - z0 - t - 0.02)
            bd = rng.uniform(0.15, d - t - 0.02)
            if rng.random() < 0.85:
                f.box((x, t + 0.005, z0 + t), (x + bw, t + 0.005 + bd, z0 + t + bh), "books",
                      rng.uniform(0.08, 0.85, 3))
            x += bw + 0.003
    return f


def make_tv(rng: np.random.Generator) -> Furniture:
    """A low TV stand (cabinet) with a television (dark screen in a frame, on a foot) on it."""
    w, d, h = rng.uniform(1.0, 1.8), rng.uniform(0.35, 0.5), rng.uniform(0.4, 0.6)
    tw = min(w - 0.1, rng.uniform(0.9, 1.3))
    th = tw * 9 / 16
    f = Furniture("television", (w, d, h + th + 0.1))
    f.box((0, 0, 0), (w, d, h), "cabinet", pick(rng, WOODS), Texture.WOOD)
    x0 = (w - tw) / 2
    f.box((w / 2 - 0.12, 0.08, h), (w / 2 + 0.12, 0.28, h + 0.02), "television", (0.08, 0.08, 0.08))
    f.box((w / 2 - 0.03, 0.12, h + 0.02), (w / 2 + 0.03, 0.16, h + 0.1), "television", (0.08, 0.08, 0.08))
    f.box((x0, 0.1, h + 0.1), (x0 + tw, 0.15, h + 0.1 + th), "television", (0.05, 0.05, 0.06))
    f.box((x0 + 0.02, 0.15, h + 0.12), (x0 + tw - 0.02, 0.152, h + 0.08 + th), "television",
          (0.12, 0.14, 0.18), Texture.PICTURE)
    return f


def make_boxes(rng: np.random.Generator) -> Furniture:
    """A stack of one to three cardboard boxes."""
    w, d = rng.uniform(0.3, 0.6), rng.uniform(0.3, 0.5)
    f = Furniture("box", (w, d, 0.0))
    z = 0.0
    for k in range(int(rng.integers(1, 4))):
        s = 1.0 - 0.15 * k
        bh = rng.uniform(0.2, 0.4)
        f.box(((1 - s) * w / 2, (1 - s) * d / 2, z), ((1 + s) * w / 2, (1 + s) * d / 2, z + bh), "box",
              np.array([0.65, 0.5, 0.32]) + rng.uniform(-0.08, 0.08, 3))
        z += bh
    f.size = (w, d, z)
    return f


def make_dresser(rng: np.random.Generator) -> Furniture:
    """Dresser: a wide chest of drawers (drawer fronts as slightly proud panels)."""
    w, d, h = rng.uniform(0.9, 1.5), rng.uniform(0.45, 0.55), rng.uniform(0.8, 1.1)
    f = Furniture("dresser", (w, d, h))
    c = pick(rng, WOODS)
    f.box((0, 0, 0), (w, d, h), "dresser", c, Texture.WOOD)
    n = 3
    for k in range(n):
        z0 = 0.06 + k * (h - 0.1) / n
        f.box((0.04, d, z0), (w - 0.04, d + 0.01, z0 + (h - 0.1) / n - 0.03), "dresser", c * 1.08, Texture.WOOD)
    return f


# name -> (factory, stands against a wall?, relative frequency)
FACTORIES: dict[str, tuple[Callable[[np.random.Generator], Furniture], bool, float]] = {
    "bed": (make_bed, True, 0.5),
    "night stand": (make_night_stand, True, 0.4),
    "sofa": (make_sofa, True, 0.6),
    "table": (make_table, False, 0.8),
    "chair": (make_chair, False, 0.8),
    "desk": (make_desk, True, 0.6),
    "cabinet": (make_cabinet, True, 0.7),
    "bookshelf": (make_bookshelf, True, 0.8),
    "television": (make_tv, True, 0.6),
    "lamp": (make_floor_lamp, False, 0.6),
    "box": (make_boxes, False, 0.6),
    "dresser": (make_dresser, True, 0.4),
}
