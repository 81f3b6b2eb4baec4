"""Damaged DICOM SR files (cut short at many offsets, bytes flipped): each is refused in one
line that names it, or read as it was when the damage is harmless; never a traceback or a 500,
and nothing is written."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.uid import DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from testkit.dicom import CIRCUMSCRIBED, CM, HIGH_DENSITY, KNEE, LEFT, LENGTH, MM, SHORT_AXIS
from tests.cli.test_import_export import row_counts
from tests.interop.dcmjs_sr import write_dcmjs_sr
from tests.interop.sr_files import Group, write_sr
from tracker.errors import InvalidInput
from tracker.interop.sr import Compartment, SrInput, convert

SEED = 18
CUTS_PER_FILE = 24
FLIPS_PER_FILE = 8  # a flipped file is read whole (~0.1 s); cuts mostly stop early
ISSUE_CUT = 128 + 4 + 20  # preamble, "DICM", 20 bytes of file meta


def _recoded(path: Path, transfer_syntax: str) -> bytes:
    ds = dcmread(path)
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _undefined_lengths(path: Path) -> bytes:
    """Sequences and items with delimiters instead of lengths, as DCMTK writes them."""
    ds = dcmread(path)
    for elem in ds.iterall():
        if elem.VR == "SQ":
            elem.is_undefined_length = True
            for item in elem.value:
                item.is_undefined_length_sequence_item = True
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def real_reports(folder: Path) -> dict[str, bytes]:
    """Varied SRs: highdicom's three SR classes, planar and image groups, a prior study with
    its date in the image library, dcmjs' layout, and three encodings of one report."""
    uid = generate_uid()
    two = write_sr(folder / "two-groups.dcm", [
        Group(tracking_uid=uid, measurements=[(LENGTH, 14.0, MM), (SHORT_AXIS, 0.8, CM)],
              qualitative=[(LENGTH, HIGH_DENSITY), (LENGTH, CIRCUMSCRIBED)]),
        Group(site=KNEE, laterality=LEFT, tracking_uid=generate_uid(), kind="image",
              measurements=[(LENGTH, 6.5, MM)])])
    files = {
        "two-groups.dcm": two.read_bytes(),
        "comprehensive.dcm": write_sr(folder / "c.dcm", [Group(tracking_uid=uid)],
                                      modality="DX", sop="comprehensive").read_bytes(),
        "enhanced.dcm": write_sr(folder / "e.dcm", [Group(kind="image", tracking_uid=uid)],
                                 modality="US", sop="enhanced").read_bytes(),
        "prior.dcm": write_sr(folder / "p.dcm", [Group(tracking_uid=uid, on_prior=True),
                                                 Group(tracking_uid=uid)],
                              study_date="20240601", prior_date="20240110",
                              library=True).read_bytes(),
        "dcmjs.dcm": write_dcmjs_sr(folder / "j.dcm", patient_id="P-0001",
                                    study_date="20240110", polyline=False).read_bytes(),
        "implicit.dcm": _recoded(two, ImplicitVRLittleEndian),
        "deflated.dcm": _recoded(two, DeflatedExplicitVRLittleEndian),
        "undefined-lengths.dcm": _undefined_lengths(two),
    }
    return files


def damaged(name: str, data: bytes, rng: random.Random) -> Iterator[tuple[str, str, bytes]]:
    """(kind, file name, bytes): cut at seeded offsets, then 1-3 seeded bytes flipped."""
    stem = name.removesuffix(".dcm")
    offsets = {ISSUE_CUT, *rng.sample(range(1, len(data)), CUTS_PER_FILE)}
    for cut in sorted(offsets):
        yield "cut", f"{stem}-cut{cut}.dcm", data[:cut]
    for n in range(FLIPS_PER_FILE):
        flipped = bytearray(data)
        for at in rng.sample(range(128, len(data)), rng.randint(1, 3)):
            flipped[at] ^= rng.randint(1, 255)
        yield "flip", f"{stem}-flip{n}.dcm", bytes(flipped)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return real_reports(tmp_path_factory.mktemp("sr"))


def read(name: str, data: bytes) -> Any:
    return convert([SrInput(name, data)], compartment=Compartment.TENDON)


REPORTS = ("two-groups.dcm", "comprehensive.dcm", "enhanced.dcm", "prior.dcm", "dcmjs.dcm",
           "implicit.dcm", "deflated.dcm", "undefined-lengths.dcm")


@pytest.mark.parametrize("name", REPORTS)
def test_every_damaged_file_is_refused_in_one_line_or_read_as_it_was(
        reports: dict[str, bytes], name: str) -> None:
    """About 30 variants per report, 264 in all."""
    rng = random.Random(f"{SEED}-{name}")
    data = reports[name]
    try:
        intact: dict[str, Any] | None = read(name, data).document
    except InvalidInput:
        intact = None  # dcmjs without laterality: refused whole
    refused = {"cut": 0, "flip": 0}
    for kind, label, variant in damaged(name, data, rng):
        try:
            document = read(label, variant).document
        except InvalidInput as exc:
            refused[kind] += 1
            for p in exc.problems:
                assert p.path.startswith(label), p
                assert "\n" not in p.message and len(p.message) < 400, p
            continue
        if kind == "cut":  # a file cut short never reads as another report
            assert document == intact, label
    assert refused["cut"] >= CUTS_PER_FILE - 3, refused  # a cut at an element boundary may read


def test_a_file_cut_after_its_header_is_named_with_the_reason(reports: dict[str, bytes]) -> None:
    with pytest.raises(InvalidInput) as exc:
        read("visit.dcm", reports["two-groups.dcm"][:ISSUE_CUT])
    assert [str(p) for p in exc.value.problems] == [
        f"visit.dcm: is cut short: its {ISSUE_CUT} bytes end inside a DICOM element (the file"
        " was copied or downloaded only in part)"]


def test_an_empty_measurement_group_is_one_line(tmp_path: Path) -> None:
    path = write_sr(tmp_path / "empty.dcm", [Group(), Group(tracking_id="Lesion 2")])
    ds = dcmread(path)
    measurements = next(i for i in ds.ContentSequence
                        if i.ConceptNameCodeSequence[0].CodeValue == "126010")
    del measurements.ContentSequence[1].ContentSequence
    ds.save_as(path)
    with pytest.raises(InvalidInput) as exc:
        read("empty.dcm", path.read_bytes())
    assert [str(p) for p in exc.value.problems] == [
        "empty.dcm: measurement group 2 of the Imaging Measurements is empty (no tracking"
        " identifier, finding site or measurement)"]


def some_damaged(reports: dict[str, bytes], count: int) -> list[tuple[str, bytes]]:
    rng = random.Random(SEED + 1)
    every = [(label, data) for name, whole in reports.items()
             for _, label, data in damaged(name, whole, rng)]
    return [("cut-after-header.dcm", reports["two-groups.dcm"][:ISSUE_CUT]),
            *rng.sample(every, count)]


def test_import_sr_names_each_damaged_file_and_writes_nothing(
        run: Callable[..., Any], reports: dict[str, bytes], tmp_path: Path,
        database_url: str) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "good.dcm").write_bytes(reports["two-groups.dcm"])
    for label, data in some_damaged(reports, 30):
        (folder / label).write_bytes(data)
    before = row_counts(database_url)
    result = run("import-sr", str(folder), "--compartment", "tendon")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors and all(line.startswith(f"error: {folder}/") for line in errors)
    assert f"error: {folder / 'cut-after-header.dcm'}: is cut short" in result.output
    assert row_counts(database_url) == before
