"""slamseg.sequences: data in. Camera, Frame, Sequence, label sets, dataset readers, synthetic scenes, writers.

Depends on numpy, imageio, scipy, h5py only (open3d only inside the synthetic generator).
"""

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import LabelSetError, SequenceFormatError, SlamSegError, UnknownFormatError
from slamseg.sequences.frame import Frame
from slamseg.sequences.labelsets import LabelMapping, LabelSet, get_label_set, get_mapping
from slamseg.sequences.sequence import Sequence, detect_format, known_formats, open_sequence, register_format

__all__ = [
    "Camera",
    "Frame",
    "LabelMapping",
    "LabelSet",
    "LabelSetError",
    "Sequence",
    "SequenceFormatError",
    "SlamSegError",
    "UnknownFormatError",
    "detect_format",
    "get_label_set",
    "get_mapping",
    "known_formats",
    "open_sequence",
    "register_format",
]
