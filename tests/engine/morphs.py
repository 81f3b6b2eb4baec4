"""Named morphologies of seen findings for engine tests.

A name spells the four codes' initials in `Finding`'s order: density (Dense, Moderate, Faint),
margin (Well defined, Ill defined), texture and pattern (Nodular, Cloud, Bone, Shell, Linear;
`_` for none): `DWHN` is dense, well defined, homogeneous, nodular. Texture's H stands for
homogeneous or heterogeneous alike (`MWHN` is homogeneous, `MWHS` heterogeneous): the
definition says which.
"""

from __future__ import annotations

from typing import NamedTuple

from tracker.vocabulary import Density, Margin, Pattern, Texture


class Morph(NamedTuple):
    """A seen finding's morphology, field for field as `Finding` names it."""

    density: Density | None
    margin: Margin | None
    texture: Texture | None
    pattern: Pattern | None


DWHN = Morph(Density.DENSE, Margin.WELL_DEFINED, Texture.HOMOGENEOUS, Pattern.NODULAR)
MIHC = Morph(Density.MODERATE, Margin.ILL_DEFINED, Texture.HETEROGENEOUS, Pattern.CLOUD)
FIHC = Morph(Density.FAINT, Margin.ILL_DEFINED, Texture.HETEROGENEOUS, Pattern.CLOUD)
MWHN = Morph(Density.MODERATE, Margin.WELL_DEFINED, Texture.HOMOGENEOUS, Pattern.NODULAR)
DWHB = Morph(Density.DENSE, Margin.WELL_DEFINED, Texture.HOMOGENEOUS, Pattern.BONE)
DWH_ = Morph(Density.DENSE, Margin.WELL_DEFINED, Texture.HOMOGENEOUS, None)
MWHS = Morph(Density.MODERATE, Margin.WELL_DEFINED, Texture.HETEROGENEOUS, Pattern.SHELL)
DWHL = Morph(Density.DENSE, Margin.WELL_DEFINED, Texture.HOMOGENEOUS, Pattern.LINEAR)
# HO rows O6 (consolidating: moderate, well defined, no zoning) and O5 (shell: zoned)
CONSOLIDATING = Morph(Density.MODERATE, Margin.WELL_DEFINED, Texture.HETEROGENEOUS, Pattern.NODULAR)
