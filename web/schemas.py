"""Response shapes of `/api/v1`, for the OpenAPI document and as a check on what we send.

Request bodies are the timeline format's own models (`tracker.timeline.models`), so the API, the
forms and `tracker import` share one validation. Response models allow extra keys: a field added
to `tracker.queries.show.lesion_json` reaches clients even before it is described here.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    computed_field,
)

from reporting.words import stage_label
from tracker.audit import MAX_REASON_CHARS
from tracker.cohort import BY_CHOICES
from tracker.errors import InvalidInput
from tracker.queries.patient_list import check_cursor
from tracker.queries.worklist import WORKLIST_STATES
from tracker.timepoints import ROW_ORDERS
from tracker.vocabulary import AlertKind, Compartment, Entity, Region, Severity, Stage

# The worklist's state filter, one member per entry of tracker.queries.worklist.WORKLIST_STATES.
WorklistState = StrEnum("WorklistState", {s.upper(): s for s in WORKLIST_STATES})  # type: ignore[misc]
# The cohort page's strata and the timepoint table's orders, likewise.
Stratum = StrEnum("Stratum", {s.upper(): s for s in BY_CHOICES})  # type: ignore[misc]
TimepointSort = StrEnum("TimepointSort", {s.upper(): s for s in ROW_ORDERS})  # type: ignore[misc]


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ErrorItem(_Out):
    path: str = Field(description="JSON path of the offending value ('' = the whole request)")
    message: str


class Errors(_Out):
    errors: list[ErrorItem] = Field(description="the first 100 problems, in path order")
    total: int | None = Field(default=None, description="how many problems in all, when more "
                                                        "were found than are listed")


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with nested models written in place: APIFlask registers error
    response schemas by value, where a `$defs` reference would dangle."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)  # type: ignore[no-any-return]


class AlertOut(_Out):
    id: int
    kind: str
    severity: str = Field(description="urgent, warning or info")
    rule: str = Field(description="the clinical rule id, e.g. hadd.no_resolution")
    since: str
    reason: str
    state: str = Field(description="open, acknowledged, snoozed (cleared alerts are not listed)")
    state_by: str | None = None
    state_at: str | None = None
    state_reason: str | None = None
    snoozed_until: str | None = None


class PrognosisModelOut(_Out):
    family: str
    family_label: str = Field(description="how the pages name the family's model")
    version: int = Field(description="the family's stored fit version (grows with each refit "
                                     "that changed the model)")
    model: str = Field(description="model kind, e.g. weibull-aft/1")
    fitted_at: str
    usable: bool = Field(description="false: not enough follow-up data, no number is given")
    n: int = Field(description="lesions followed (the model's support)")
    events: int = Field(description="resolutions among them")
    c_index: float | None = Field(default=None, description="5-fold cross-validated C-index")
    c_index_ci: list[float] | None = None


class ProbabilityOut(_Out):
    months: int = Field(description="6, 12 or 24 months from baseline (first visible film)")
    probability: float = Field(description="P(resolved by then), 0-1")
    ci_lower: float = Field(description="95 % CI")
    ci_upper: float
    extrapolated: bool = Field(description="beyond the longest follow-up in the data")


class StandingOut(_Out):
    days: int = Field(description="days from baseline to the last film showing the deposit")
    percent: float = Field(description="% of similar deposits (same family and baseline) "
                                       "the model expects resolved by then")
    ci_lower: float
    ci_upper: float
    text: str = Field(description="e.g. '80 % of similar deposits in this clinic resolve "
                                  "sooner (95 % CI 72-86 %)'")


class PrognosisOut(_Out):
    """Time to resolution from the clinic's own follow-up (never changes stages or alerts)."""

    status: str = Field(description="available, or unavailable (see code and text)")
    family: str | None = None
    code: str | None = Field(default=None, description="why unavailable: no_follow_up, "
                             "too_few_events, low_c_index, not_fitted, pending, no_family")
    text: str | None = Field(default=None, description="e.g. 'not enough follow-up data in "
                                                       "this clinic: ...'")
    model: PrognosisModelOut | None = Field(default=None, description="the stored fit used")
    support: dict[str, int] | None = Field(default=None, description="a refused model's "
                                           "lesions (n) and resolutions (events)")
    by_month: list[ProbabilityOut] | None = None
    median_days: float | None = Field(default=None, description="median predicted time to "
                                      "resolution from baseline, days")
    median_ci: list[float] | None = Field(default=None, description="its 95 % CI")
    median_note: str | None = Field(default=None, description="why no median, when none")
    baseline: dict[str, str] | None = Field(default=None, description="the lesion's values "
                                            "of the model's covariates")
    notes: list[str] | None = None
    standing: StandingOut | None = Field(default=None, description="with an uncleared "
                                         "no_resolution alert: where the lesion stands")


class WorklistStandingOut(StandingOut):
    model: PrognosisModelOut


class WorklistAlertOut(AlertOut):
    lesion_id: int
    lesion: str
    patient: str
    region: str
    laterality: str
    standing: WorklistStandingOut | None = Field(
        default=None, description="no_resolution alerts, when the family's model is used: "
                                  "where the lesion stands among similar deposits (context; "
                                  "the rules decide the alert)")


class SiteOut(_Out):
    compartment: str
    region: str
    structure: str | None = None
    laterality: str


class ResponseOut(_Out):
    baseline: str = Field(description="date of the last visible observation on or before the "
                                      "treatment")
    change_pct: float = Field(description="longest diameter vs the baseline, %")
    nadir_change_pct: float = Field(description="longest diameter vs the smallest since the "
                                                "baseline, %")
    category: str = Field(description="complete, partial, stable or progression")


class ObservationOut(_Out):
    id: int
    version: int = Field(description="grows with every change; the ETag of "
                                     "GET /observations/{id}, sent back as If-Match")
    date: str
    modality: str
    visible: bool = True
    size_mm: list[float] | None = None
    density: str | None = None
    margin: str | None = None
    texture: str | None = None
    pattern: str | None = None
    features: list[str] | None = None
    pain: int | None = None
    study_uid: str | None = Field(default=None, description="DICOM StudyInstanceUID")
    accession: str | None = Field(default=None, description="accession number of that study")
    note: str | None = None
    stage: str = Field(description="the assessed stage, or 'pending' until assessed")
    resolution: str | None = Field(default=None, description="how sure a `resolved` stage is: "
                                   "confirmed, expected or unconfirmed")
    confidence: float | None = None
    evidence: list[str] | None = None
    classifications: dict[str, str] | None = None
    images_url: str | None = Field(None, description="viewer link, when VIEWER_URL_TEMPLATE is"
                                   " set and the study is known")
    response: ResponseOut | None = Field(
        default=None, description="response to the latest earlier treatment (clinical-rules "
                                  "§7a); null without one or while pending")


    @computed_field(description="the stage as the pages say it, e.g. 'Resolved (unconfirmed)'")
    def stage_label(self) -> str:
        return stage_label(self.stage, self.resolution)


class TreatmentOut(_Out):
    id: int
    date: str
    kind: str = Field(description="lavage, eswt, injection, surgery, radiotherapy or nsaid")
    note: str | None = None


class AssessmentOut(_Out):
    status: str = Field(description="current, or pending while the data changed since")
    stage: str | None = None
    resolution: str | None = Field(default=None, description="how sure a current `resolved` "
                                   "stage is: confirmed, expected or unconfirmed")
    entity: str | None = None
    entity_source: str | None = None
    suggested_entities: list[dict[str, Any]] = []
    next_follow_up: str | None = None
    engine_version: str | None = None
    rules_revision: int | None = Field(default=None,
                                       description="revision of the clinical rules applied")
    assessed_at: str | None = None

    @computed_field(description="the stage as the pages say it, e.g. 'Resolved (unconfirmed)'")
    def stage_label(self) -> str | None:
        return stage_label(self.stage, self.resolution) if self.stage else None


class TransitionOut(_Out):
    date: str
    from_: str = Field(alias="from")
    to: str
    evidence: list[str]
    unexpected: bool = False


class LesionOut(_Out):
    id: int
    lesion: str
    version: int | None = Field(default=None, description="send back to correct the site")
    site: SiteOut
    entity: str | None = None
    event_date: str | None = None
    event_kind: str | None = Field(default=None, description="what happened on event_date")
    treatments: list[TreatmentOut] = []
    assessment: AssessmentOut
    observations: list[ObservationOut]
    transitions: list[TransitionOut]
    alerts: list[AlertOut]
    prognosis: PrognosisOut


class PatientRecordOut(_Out):
    format: str
    patient: str
    birth_year: int | None = None
    sex: str | None = None
    lesions: list[LesionOut]


class PatientSummaryOut(_Out):
    id: str
    birth_year: int | None = None
    sex: str | None = None
    lesions: int
    open_alerts: dict[str, int] = Field(description="alerts needing action, by severity")
    pending_assessments: int
    last_visit: str | None = None
    next_follow_up: str | None = None


class PatientListOut(_Out):
    items: list[PatientSummaryOut]
    total: int = Field(description="exact when total_exact, else a lower bound (10,001: "
                                   "more than 10,000) or the database's estimate")
    total_exact: bool
    page: int
    per_page: int
    next: str | None = Field(default=None, description="pass as `after` for the next page; "
                                                        "null on the last page")


class AlertListOut(_Out):
    items: list[WorklistAlertOut]
    total: int = Field(description="how many alerts match: exact when `total_is` is exact, "
                                   "else a lower bound (at_least) or the planner's estimate "
                                   "(about); never counted past 10,000")
    total_is: Literal["exact", "at_least", "about"]
    page: int
    per_page: int
    next: str | None = Field(description="the `after` cursor of the next page; null on the "
                                         "last")


class AssessmentDetailOut(AssessmentOut):
    lesion_id: int
    stages: list[dict[str, Any]]
    transitions: list[TransitionOut]
    alerts: list[AlertOut]


class ImportOut(_Out):
    patients_created: int
    patients_updated: int
    lesions_created: int
    lesions_updated: int
    observations_created: int
    observations_updated: int
    observations_unchanged: int
    assessments_queued: int


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=2000, description="optional")


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    until: date = Field(description="YYYY-MM-DD, after today")
    reason: str | None = Field(default=None, max_length=2000,
                               description="why waiting is safe (required to snooze)")


MAX_PER_PAGE = 200


class Query(BaseModel):
    """Query arguments, of the API and of the pages alike (`web.validation.query_args`): an
    unknown one is an error, as in a body (a typo such as `per-page` must not silently give the
    default)."""

    model_config = ConfigDict(extra="forbid")


class RemovalQuery(Query):
    """Why a record is removed (a DELETE has no body), kept in the audit: required for a
    treatment; optional for an observation, whose DELETE clients used before it took one."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True,
                                             max_length=MAX_REASON_CHARS)] | None = Field(
        default=None, description="why it is removed, kept in the audit: required to remove a "
                                  "treatment, optional for an observation")


class FhirQuery(Query):
    """FHIR's `_format`, which a FHIR client may send: JSON is the one format served."""

    format: Literal["json", "application/json", "application/fhir+json"] | None = Field(
        default=None, alias="_format", description="FHIR's _format: JSON only")


class PageNumber(Query):
    """A page of a list whose page size is the page's own (the history pages)."""

    page: int = Field(default=1, ge=1, le=10**6)


class PageQuery(PageNumber):
    """Query arguments of a paged list."""

    per_page: int = Field(default=50, ge=1, le=MAX_PER_PAGE)


# A patient id search reads its first SEARCH_CHARS characters (ids are at most 64 long).
SEARCH_CHARS = 64
Search = Annotated[str, AfterValidator(lambda value: value[:SEARCH_CHARS])]


def _list_position(value: str) -> str:
    try:
        return check_cursor(value)
    except InvalidInput:
        raise ValueError("is not a position this list gave; start from its first page") from None


class PatientSearch(PageNumber):
    """The patient list page."""

    q: Search = Field(default="", description="the patient id contains this (first 64 characters)")
    after: Annotated[str, AfterValidator(_list_position)] | None = Field(
        default=None, max_length=400,
        description="the next page: the `next` of the page before (pages by position, not "
                    "number, so rows that change between two pages are neither skipped nor "
                    "repeated)")


class PatientQuery(PageQuery, PatientSearch):
    pass


class AlertQuery(PageQuery):
    after: str | None = Field(default=None, max_length=200, pattern=r"^[A-Za-z0-9_-]+$",
                              description="the `next` cursor of the previous page (a keyset "
                                          "page: fast at any depth); `page` reaches at most "
                                          "10,000 rows deep")
    kind: AlertKind | None = None
    severity: Severity | None = None
    region: Region | None = None
    state: WorklistState = Field(
        default=WorklistState("active"),
        description="active = open, acknowledged and expired snoozes; or open, acknowledged, "
                    "snoozed, uncleared")


class WorklistQuery(AlertQuery):
    """The worklist page: the API's filters and the clinician's further ones."""

    rule: str | None = Field(default=None, max_length=64, pattern=r"^[a-z_]+\.[a-z_]+$",
                             description="an engine rule id, or one stored alerts carry")
    entity: Entity | None = None
    stage: Stage | None = None
    overdue: bool = False
    unassessed: bool = False
    patient: Search = Field(default="", description="the patient id contains this")


class ChartQuery(Query):
    download: bool = False
    # the phone variant (<picture> on the pages): half as wide, legend below, same text size
    narrow: bool = False


class CohortQuery(ChartQuery):
    entity: Entity | None = None
    region: Region | None = None
    compartment: Compartment | None = None
    by: Stratum | None = None


class TimepointsQuery(Query):
    sort: TimepointSort = TimepointSort("lesion")


class CompareQuery(Query):
    a: int | None = Field(default=None, ge=1, le=2**31 - 1)
    b: int | None = Field(default=None, ge=1, le=2**31 - 1)


class NewObservationQuery(Query):
    same: bool = False  # "same morphology as last visit"


class MergeQuery(Query):
    other: int | None = Field(default=None, ge=1, le=2**31 - 1)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MergeIn(_In):
    other: int = Field(ge=1, le=2**31 - 1, description="Row id of the lesion merged into this one")
    prefer: dict[str, str] = Field(
        default_factory=dict,
        description='Per date both lesions have a visit: `"kept"` (this lesion\'s observation '
                    'stays) or `"merged"` (the other\'s)')
    reason: str = Field(min_length=1, max_length=500)


class SiteBody(_In):
    compartment: str = Field(description="vocabulary compartment code")
    region: str = Field(description="vocabulary region code")
    structure: str | None = Field(default=None, max_length=120)
    laterality: str = Field(description="right, left, or midline (spine, neck, trunk, pelvis)")


class DivideIn(_In):
    observation: int = Field(ge=1, le=2**31 - 1, description="Row id of the visit to divide")
    new_size_mm: list[float] = Field(description="the new lesion's size on that film")
    remaining_size_mm: list[float] = Field(description="what remains this lesion's size")


class SplitIn(_In):
    observations: list[int] = Field(default_factory=list, max_length=1000,
                                    description="Row ids of the observations to move")
    divide: list[DivideIn] = Field(
        default_factory=list, max_length=1000,
        description="Visits whose film measured both deposits: one observation on each lesion")
    new_lesion: str = Field(description="Id of the new lesion (same rule as lesion ids)")
    site: SiteBody | None = Field(default=None, description="the new lesion's site (default: "
                                                            "this lesion's)")
    reason: str = Field(min_length=1, max_length=500)


class SiteCorrectionIn(_In):
    site: SiteBody
    version: int = Field(ge=1, description="the lesion's `version` as read (GET); 412 when it "
                                           "changed since")
    reason: str = Field(min_length=1, max_length=500)


class StaleErrors(_Out):
    errors: list[ErrorItem]
    current: ObservationOut | None = Field(
        None, description="the observation as it is now (its ETag is in the response header)")


class ETagHeader(BaseModel):
    """The observation's version, to send back as If-Match."""

    ETag: str = Field(description='the version, e.g. "3"')
