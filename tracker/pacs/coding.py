"""calcitrack's own DICOM codes and UIDs: the one place they are defined.

DICOM lets a producer use a private coding scheme whose designator starts with "99" (PS3.16,
8.2); calcitrack's is `99CALCITRACK`, declared in every SR it writes (Coding Scheme
Identification Sequence). Its code values are the vocabulary codes themselves (`resorptive`,
`ho_mature`), so a reader maps them back without a table.

UIDs calcitrack makes are derived, not random: `2.25.` followed by a number drawn from a hash
of what the object is (PS3.5 B.2, a UUID-derived UID, which needs no registered root). The
same assessment therefore always gets the same SR UIDs, and storing it twice stores one SR.
"""

from __future__ import annotations

import re
import uuid

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code
from pydicom.uid import RE_VALID_UID

from tracker.vocabulary import LATERALITY_SNOMED, REGION_SNOMED, Laterality, Region, Stage, label

SCHEME = "99CALCITRACK"
SCHEME_NAME = "calcitrack lesion follow-up codes"

STAGE = Code("stage", SCHEME, "Lesion stage")
CONFIDENCE = Code("confidence", SCHEME, "Stage confidence")
NEXT_FOLLOW_UP = Code("next_follow_up", SCHEME, "Next follow-up imaging")
ENGINE = Code("engine", SCHEME, "calcitrack stage engine")
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:calcitrack:dicom")
RATIO = Code("{ratio}", "UCUM", "ratio")
LESION = Code("52988006", "SCT", "Lesion")
IMAGING = Code("363679005", "SCT", "Imaging")  # procedure reported when the source has none


def _meaning(code: str) -> str:
    text = label(code)
    return text[:1].upper() + text[1:]


def stage_code(stage: Stage) -> Code:
    return Code(stage.value, SCHEME, _meaning(stage.value))


def stage_of(code: Code) -> Stage | None:
    """The stage a coded value names, if it is one of ours."""
    if code.scheme_designator != SCHEME:
        return None
    try:
        return Stage(code.value)
    except ValueError:
        return None


def region_code(region: Region) -> Code:
    return Code(REGION_SNOMED[region], "SCT", _meaning(region.value))


def laterality_code(laterality: Laterality) -> Code | None:
    """SNOMED CT right or left; midline has no qualifier."""
    code = LATERALITY_SNOMED.get(laterality)
    return None if code is None else Code(code, "SCT", _meaning(laterality.value))


def coding_scheme_identification() -> Dataset:
    """The item that declares `99CALCITRACK` in a dataset that uses it."""
    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = SCHEME_NAME
    item.CodingSchemeResponsibleOrganization = "calcitrack"
    return item


def derived_uid(*parts: str) -> str:
    """A UID that is the same for the same parts, and different for different ones: `2.25.`
    and the integer of a name-based (SHA-1) UUID of the parts."""
    return f"2.25.{uuid.uuid5(_NAMESPACE, chr(31).join(parts)).int}"


def is_uid(text: str) -> bool:
    return len(text) <= 64 and re.fullmatch(RE_VALID_UID, text) is not None
