"""calcitrack's reading goes back to the PACS as a TID 1500 SR: built, stored in Orthanc,
fetched back and read with highdicom as any viewer would."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import highdicom as hd
import numpy as np
from pydicom import dcmwrite
from pydicom.dataset import Dataset

from testkit.dicom import Finding, graphic_data, measurement_report, radiograph
from tracker.pacs import coding
from tracker.pacs.client import InstanceRef, PacsClient
from tracker.pacs.writeback import Mark, Reading, report_uids, write_back_report
from tracker.vocabulary import Laterality, Region, Stage

LESION_UID = "1.2.826.0.1.3680043.8.498.77"


def reading(**changes: object) -> Reading:
    values: dict[str, object] = dict(
        patient_id="P-0001", lesion_id=LESION_UID, region=Region.SHOULDER,
        laterality=Laterality.RIGHT, visit=date(2024, 1, 10), stage=Stage.RESORPTIVE,
        confidence=0.82, next_follow_up=date(2024, 4, 10), engine_version="2026.11.4",
        version=3, assessed_at=datetime(2024, 1, 11, 9, 30, tzinfo=UTC))
    values.update(changes)
    return Reading(**values)  # type: ignore[arg-type]


def ref_of(ds: Dataset) -> InstanceRef:
    return InstanceRef(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID),
                       str(ds.SOPInstanceUID), str(ds.SOPClassUID))


def parsed(ds: Dataset) -> hd.sr.ComprehensiveSR:
    data = io.BytesIO()
    dcmwrite(data, ds)
    return hd.sr.srread(io.BytesIO(data.getvalue()))


def test_the_reading_stored_in_the_pacs_reads_back_with_highdicom(pacs: PacsClient) -> None:
    image = radiograph()
    source = measurement_report([Finding(image, tracking_uid=LESION_UID)])
    pacs.store([image.dataset, source])
    mark = Mark(ref_of(image.dataset), "POLYLINE",
                tuple(map(tuple, graphic_data(image, "polyline").tolist())))
    built = write_back_report(source, reading(), [ref_of(image.dataset)], mark)

    assert pacs.store([built]).stored == (str(built.SOPInstanceUID),)
    [found] = [r for r in pacs.search_reports(date(2024, 1, 1))
               if r.sop_instance_uid == built.SOPInstanceUID]
    sr = parsed(pacs.retrieve(found))

    assert sr.StudyInstanceUID == source.StudyInstanceUID and sr.PatientID == "P-0001"
    assert sr.SeriesDescription == "calcitrack readings" and sr.ContentDate == "20240111"
    assert sr.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99CALCITRACK"
    evidence = {instance for _, _, instance, _ in sr.get_evidence()}
    assert evidence == {source.SOPInstanceUID, image.dataset.SOPInstanceUID}
    [group] = sr.content.get_planar_roi_measurement_groups()
    assert group.tracking_uid == LESION_UID          # the viewer's own lesion
    [stage] = group.get_qualitative_evaluations()
    assert stage.name == coding.STAGE
    assert coding.stage_of(stage.value) is Stage.RESORPTIVE
    assert stage.value.meaning == "Resorptive"
    [confidence] = group.get_measurements()
    assert confidence.name == coding.CONFIDENCE and confidence.value == 0.82
    assert confidence.unit == coding.RATIO
    items = group[0].ContentSequence
    [follow_up] = items.find(coding.NEXT_FOLLOW_UP)
    assert follow_up.value == date(2024, 4, 10)
    [site] = group.finding_sites
    assert site.value.value == "16982005" and site.laterality.value == "24028007"
    assert group.roi.graphic_type.value == "POLYLINE"
    np.testing.assert_array_equal(group.roi.value, [[260, 200], [340, 200]])
    [source_image] = group.roi.ContentSequence[0].ReferencedSOPSequence
    assert source_image.ReferencedSOPInstanceUID == image.dataset.SOPInstanceUID
    [engine] = items.find(hd.sr.CodedConcept("111001", "DCM", "Algorithm Name"))
    [version] = items.find(hd.sr.CodedConcept("111003", "DCM", "Algorithm Version"))
    assert (engine.value, version.value) == ("calcitrack stage engine", "2026.11.4")


def test_without_a_mark_the_images_are_the_groups_source_images() -> None:
    image = radiograph()
    source = measurement_report([Finding(image)])
    sr = parsed(write_back_report(source, reading(lesion_id="deposit-a", next_follow_up=None),
                                  [ref_of(image.dataset)]))
    [group] = sr.content.get_image_measurement_groups()
    assert [s.referenced_sop_instance_uid for s in group.source_images] == [
        image.dataset.SOPInstanceUID]
    assert group.tracking_identifier == "deposit-a" and group.tracking_uid.startswith("2.25.")
    assert group[0].ContentSequence.find(coding.NEXT_FOLLOW_UP) == []


def test_one_assessment_version_gives_one_sr(pacs: PacsClient) -> None:
    image = radiograph()
    source = measurement_report([Finding(image)])
    first = write_back_report(source, reading(), [ref_of(image.dataset)])
    again = write_back_report(source, reading(), [ref_of(image.dataset)])
    newer = write_back_report(source, reading(version=4, stage=Stage.POSTCALCIFIC),
                              [ref_of(image.dataset)])
    assert (first.SeriesInstanceUID, first.SOPInstanceUID) == (
        again.SeriesInstanceUID, again.SOPInstanceUID)
    assert newer.SeriesInstanceUID == first.SeriesInstanceUID
    assert newer.SOPInstanceUID != first.SOPInstanceUID
    assert report_uids(reading(), str(source.StudyInstanceUID)) == (
        first.SeriesInstanceUID, first.SOPInstanceUID)
    other_lesion = write_back_report(source, reading(lesion_id="1.2.3"), [])
    assert other_lesion.SOPInstanceUID != first.SOPInstanceUID

    pacs.store([image.dataset, source, first])
    pacs.store([again])       # a task that ran twice
    pacs.store([newer])
    written = [r for r in pacs.search_reports(date(2024, 1, 1))
               if r.series_uid == first.SeriesInstanceUID]
    assert sorted(r.sop_instance_uid for r in written) == sorted(
        [first.SOPInstanceUID, newer.SOPInstanceUID])
