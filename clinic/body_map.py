"""The body map: a front view of the skeleton drawn as SVG paths (no image, no library), one region
per bone and side the lesion-site list names, and the vertebral column beside it as one region per
segment (cervical, thoracic, lumbar, sacral), whose level is chosen in the site's row.

Drawn in the anatomical position: the patient's right is on the viewer's left. On an entry form the
regions are buttons (static/clinic/bodymap.js) that fill and clear the form's plain site rows; on
the patient page the same map shows the active sites, highlighted, beside their text list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from registry.models import LesionSite
from registry.phenotype_codes import Bone, Laterality

VIEW_BOX = "0 0 240 420"

SEGMENTS = {
    "C": "Cervical vertebrae (C1–C7)",
    "T": "Thoracic vertebrae (T1–T12)",
    "L": "Lumbar vertebrae (L1–L5)",
    "S": "Sacral vertebrae (S1–S5)",
}


def _rect(x: float, y: float, w: float, h: float) -> str:
    return f"M{x} {y}h{w}v{h}h{-w}Z"


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> str:
    return f"M{cx - rx} {cy}a{rx} {ry} 0 1 0 {2 * rx} 0a{rx} {ry} 0 1 0 {-2 * rx} 0Z"


@dataclass(frozen=True)
class Region:
    bone: str
    side: str  # the laterality a site here has
    segment: str  # a vertebral segment's letter, or ""
    d: str  # the SVG path

    @property
    def key(self) -> str:
        return f"vertebra:{self.segment}" if self.segment else f"{self.bone}:{self.side}"

    @property
    def label(self) -> str:
        if self.segment:
            return SEGMENTS[self.segment]
        name = Bone(self.bone).label
        if self.side in (Laterality.LEFT, Laterality.RIGHT):
            return f"{Laterality(self.side).label} {name.lower()}"
        return name


# x of a paired bone's region on the patient's right (viewer's left) → mirrored about x = 100.
def _paired(bone: str, d_right: str, d_left: str) -> list[Region]:
    return [Region(bone, Laterality.RIGHT, "", d_right), Region(bone, Laterality.LEFT, "", d_left)]


def _mirror_rect(bone: str, x: float, y: float, w: float, h: float) -> list[Region]:
    return _paired(bone, _rect(x, y, w, h), _rect(200 - x - w, y, w, h))


REGIONS: tuple[Region, ...] = (
    Region(Bone.MANDIBLE, Laterality.MIDLINE, "", _ellipse(100, 52, 14, 6)),
    *_mirror_rect(Bone.CLAVICLE, 66, 70, 30, 6),
    Region(Bone.STERNUM, Laterality.MIDLINE, "", _rect(95, 80, 10, 50)),
    *_mirror_rect(Bone.HUMERUS, 52, 80, 10, 70),
    *_mirror_rect(Bone.RADIUS, 42, 154, 6, 58),  # lateral, the thumb's side
    *_mirror_rect(Bone.ULNA, 52, 154, 6, 58),
    *_paired(
        Bone.PELVIS,
        "M98 180h-22q-6 14 2 30l20-2z",
        "M102 180h22q6 14-2 30l-20-2z",
    ),
    *_mirror_rect(Bone.FEMUR, 78, 214, 10, 92),
    *_mirror_rect(Bone.TIBIA, 82, 312, 9, 72),  # medial
    *_mirror_rect(Bone.FIBULA, 73, 314, 5, 68),  # lateral
    *_mirror_rect(Bone.CALCANEUS, 80, 388, 12, 9),
    *_mirror_rect(Bone.METATARSAL, 68, 400, 24, 10),
    Region(Bone.VERTEBRA, Laterality.MIDLINE, "C", _rect(186, 60, 14, 28)),
    Region(Bone.VERTEBRA, Laterality.MIDLINE, "T", _rect(185, 92, 16, 96)),
    Region(Bone.VERTEBRA, Laterality.MIDLINE, "L", _rect(184, 192, 18, 44)),
    Region(Bone.VERTEBRA, Laterality.MIDLINE, "S", "M184 240h18l-9 32z"),
)

# Drawn for orientation only (not regions): the skull, the ribs, the hands.
OUTLINE = " ".join(
    (
        _ellipse(100, 28, 20, 22),
        *(_ellipse(100, 92 + 12 * n, 30 - n, 7) for n in range(5)),
        _ellipse(45, 222, 7, 9),
        _ellipse(155, 222, 7, 9),
    )
)


@dataclass(frozen=True)
class ShownRegion:
    region: Region
    on: bool


def region_key(site: LesionSite) -> str:
    if site.bone == Bone.VERTEBRA:
        return f"vertebra:{site.vertebral_level[:1]}"
    return f"{site.bone}:{site.laterality}"


def shown(sites: Iterable[LesionSite] = ()) -> list[ShownRegion]:
    """The regions, those of `sites` highlighted ("other" bones are in the text list only)."""
    keys = {region_key(site) for site in sites}
    return [ShownRegion(region, region.key in keys) for region in REGIONS]
