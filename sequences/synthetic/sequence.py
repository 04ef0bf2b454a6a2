"""``SyntheticSequence``: a procedural room rendered along a look-around trajectory, with exact ground truth."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.frame import Frame
from slamseg.sequences.labelsets import get_label_set
from slamseg.sequences.sequence import Sequence
from slamseg.sequences.synthetic.geometry import SceneMesh
from slamseg.sequences.synthetic.noise import KinectNoise, add_kinect_noise
from slamseg.sequences.synthetic.room import Room, generate_room
from slamseg.sequences.synthetic.trajectory import look_around_trajectory, loop_trajectory

FPS = 30.0
# Iteration renders this many frames concurrently: ray casting and most numpy work release the GIL, so two
# frames in flight keep two cores busy where one frame alone leaves the second core idle half of the time.
RENDER_THREADS = 2


def default_camera(width: int = 640, height: int = 480) -> Camera:
    """A Kinect-like pinhole camera (fx = fy = 525 px at 640 px width, ~62 degrees horizontal field of view)
    with the principal point at the image centre."""
    f = 525.0 * width / 640.0
    return Camera(fx=f, fy=f, cx=(width - 1) / 2.0, cy=(height - 1) / 2.0, width=int(width), height=int(height))


class SyntheticSequence(Sequence):
    """A seeded synthetic indoor sequence: every frame has rgb, depth, NYU-40 labels, normals and pose.

    The room (layout, furniture, colours, textures) and the trajectory depend only on ``seed``; frames are
    rendered lazily (ray casting) when indexed, so constructing a sequence is cheap and ``seq[i]`` is the same
    frame whatever was rendered before.

    Args:
        seed: seed of the room, trajectory and noise.
        num_frames: number of frames (30 frames per second of trajectory time).
        width, height: image size in pixels (the default camera scales with it); ignored if ``camera`` is given.
        noise: add Kinect-like noise and holes to the depth (``Frame.meta["depth_gt"]`` keeps the clean depth).
        furniture: False renders the bare room shell (walls, floor, ceiling, door, windows, pictures).
        camera: intrinsics to render with; default :func:`default_camera`.
        speed: scales the per-frame camera motion (1.0: ~1 cm and ~1.5-2 degrees per frame).
        noise_params: parameters of the depth noise.
        trajectory: "look_around" (a sweeping path, :func:`look_around_trajectory`) or "loop" (one closed lap
            looking at the walls, :func:`loop_trajectory`, for loop-closure tests; ``speed`` does not apply).

    Frames also carry ``meta["instances"]`` (H x W int32 object ids of :meth:`scene_mesh`, -1 = nothing hit).
    """

    def __init__(
        self,
        seed: int = 0,
        num_frames: int = 300,
        width: int = 640,
        height: int = 480,
        noise: bool = False,
        furniture: bool = True,
        camera: Camera | None = None,
        speed: float = 1.0,
        noise_params: KinectNoise | None = None,
        trajectory: str = "look_around",
    ) -> None:
        super().__init__()
        if num_frames < 1:
            raise SequenceFormatError(f"a synthetic sequence needs at least 1 frame, got num_frames={num_frames}")
        self.seed = int(seed)
        self.noise = bool(noise)
        self.noise_params = noise_params or KinectNoise()
        self.camera = camera or default_camera(width, height)
        self.label_set = get_label_set("nyu40")
        self.name = f"synthetic-room-{self.seed}"
        self.room: Room = generate_room(self.seed, furniture=furniture)
        if trajectory == "loop":
            self.poses = loop_trajectory(num_frames, self.room.free_centre, self.room.free_radii, seed=self.seed)
        elif trajectory == "look_around":
            self.poses = look_around_trajectory(
                num_frames, self.room.free_centre, self.room.free_radii, seed=self.seed, speed=speed
            )
        else:
            raise SequenceFormatError(f"synthetic trajectory must be 'look_around' or 'loop', got {trajectory!r}")
        self._renderer: Any = None

    def __len__(self) -> int:
        return len(self.poses)

    @property
    def renderer(self):  # -> SceneRenderer; built on first use (imports open3d, builds the BVH once)
        """The ray-casting renderer of this sequence's room."""
        if self._renderer is None:
            from slamseg.sequences.synthetic.render import SceneRenderer

            self._renderer = SceneRenderer(self.room.mesh)
        return self._renderer

    def __iter__(self) -> Iterator[Frame]:
        """Frames in order, rendered ahead by a small thread pool (same frames as indexing)."""
        if len(self) == 0:
            return
        yield self._load_frame(0)  # builds the renderer (and commits its BVH) before threads share it
        with ThreadPoolExecutor(max_workers=RENDER_THREADS) as pool:
            pending: deque = deque()
            next_index = 1
            while pending or next_index < len(self):
                while next_index < len(self) and len(pending) < RENDER_THREADS + 1:
                    pending.append(pool.submit(self._load_frame, next_index))
                    next_index += 1
                yield pending.popleft().result()

    def _load_frame(self, i: int) -> Frame:
        r = self.renderer.render(self.camera, self.poses[i])
        meta: dict[str, Any] = {"source": f"{self.name} frame {i}", "instances": r.instances}
        depth = r.depth
        if self.noise:
            rng = np.random.default_rng([self.seed, i])  # per frame, so access order does not matter
            meta["depth_gt"] = depth
            depth = add_kinect_noise(depth, r.normals, self.camera, rng, self.noise_params)
        return Frame(
            index=i,
            timestamp=i / FPS,
            rgb=r.rgb,
            camera=self.camera,
            depth=depth,
            pose=self.poses[i].copy(),
            labels=r.labels,
            normals=r.normals,
            meta=meta,
        ).validate()

    def scene_mesh(self) -> SceneMesh:
        """The ground-truth scene mesh (world frame = pose frame; per-vertex ``vertex_labels``/``vertex_colours``)."""
        return self.room.mesh

    def write_mesh(self, path: str | Path) -> Path:
        """Write the scene mesh as a binary PLY with a per-vertex ``label`` property (NYU-40 ids)."""
        return self.room.mesh.write_ply(path)

    def __getstate__(self) -> dict:
        # Open3D's RaycastingScene cannot be pickled (DataLoader workers); each process rebuilds it lazily.
        state = self.__dict__.copy()
        state["_renderer"] = None
        return state
