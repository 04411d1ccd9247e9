"""Newsletter API shapes (SPEC §7 "Consent and newsletters"): segments, their audience preview, campaigns, their
stats, test sends, the rendered preview and the activity over time."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from myhibachi.core.dates import Moment
from myhibachi.core.text import Email, multi_line, single_line
from myhibachi.newsletters.models import CampaignStatus
from myhibachi.newsletters.segments import SegmentRules

StationId = Annotated[int, Field(ge=1, le=2**62)]
SegmentId = Annotated[int, Field(ge=1, le=2**62)]
RULES_EXAMPLE = {"customer_status": "past_customer", "last_event_before": "2026-06-01", "zip_prefix": ["945"]}
BODY_EXAMPLE = "## Holiday parties\n\nBook a December date before the 15th and the gyoza are on us.\n\n" \
               "[Pick a date](https://myhibachi.example/book)"


# --- segments ------------------------------------------------------------------------------------------------------


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"station_id": 1, "name": "Past customers, East Bay", "rules": RULES_EXAMPLE}]})

    station_id: StationId
    name: single_line(120)
    rules: SegmentRules


class SegmentUpdate(BaseModel):
    """Only the fields sent change; `rules` replaces the rules as a whole."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Past customers before June", "rules": RULES_EXAMPLE}]})

    name: single_line(120) | None = None
    rules: SegmentRules | None = None


class SegmentRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "station_id": 1, "name": "Past customers, East Bay", "rules": RULES_EXAMPLE,
        "created_at": "2026-11-20T18:00:00Z"}]})

    id: int
    station_id: int
    name: str
    rules: SegmentRules
    created_at: datetime


class SegmentList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [
        SegmentRead.model_config["json_schema_extra"]["examples"][0]]}]})  # type: ignore[index]

    items: list[SegmentRead]


class AudiencePreviewRequest(BaseModel):
    """Rules not saved yet (the segment editor's live count)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"station_id": 1, "rules": RULES_EXAMPLE}]})

    station_id: StationId
    rules: SegmentRules


class AudienceMember(BaseModel):
    contact_id: int
    email: str


class AudiencePreview(BaseModel):
    """Who a campaign to these rules would reach today: confirmed, not suppressed, not opted out."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "count": 132, "sample": [{"contact_id": 42, "email": "dana@example.com"},
                                 {"contact_id": 57, "email": "lee@example.com"}]}]})

    count: int
    sample: list[AudienceMember] = Field(description="The first few of them (by contact id).")


# --- campaigns -----------------------------------------------------------------------------------------------------

Subject = single_line(200)
Body = multi_line(50_000, min_length=1)


class CampaignCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "station_id": 1, "name": "December offer", "subject": "Free gyoza for December parties",
        "body_markdown": BODY_EXAMPLE, "segment_id": 3}]})

    station_id: StationId
    name: single_line(120)
    subject: Subject
    body_markdown: Body
    segment_id: SegmentId | None = Field(None, description="A segment of the same station (needed to send).")


class CampaignUpdate(BaseModel):
    """A draft or a scheduled campaign; only the fields sent change (null clears the segment)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"subject": "Free gyoza for your December party", "segment_id": 4}]})

    name: single_line(120) | None = None
    subject: Subject | None = None
    body_markdown: Body | None = None
    segment_id: SegmentId | None = None


class CampaignAction(StrEnum):
    edit = "edit"
    send = "send"  # now, or at a time
    pause = "pause"
    resume = "resume"
    cancel = "cancel"


class CampaignStats(BaseModel):
    """Counted from the campaign's recipients (one row each, fixed when sending starts)."""

    recipients: int = 0
    sent: int = 0
    failed: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    bounced: int = 0
    complained: int = 0


STATS_EXAMPLE = {"recipients": 132, "sent": 130, "failed": 2, "opened": 61, "clicked": 17, "unsubscribed": 1,
                 "bounced": 2, "complained": 0}
SUMMARY_EXAMPLE = {"id": 7, "station_id": 1, "name": "December offer", "subject": "Free gyoza for December parties",
                   "segment_id": 3, "status": "sent", "send_at": "2026-12-02T17:00:00Z",
                   "started_at": "2026-12-02T17:00:03Z", "finished_at": "2026-12-02T17:04:10Z",
                   "created_at": "2026-11-30T21:12:00Z", "updated_at": "2026-12-02T17:04:10Z",
                   "stats": STATS_EXAMPLE, "actions": []}


class CampaignSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SUMMARY_EXAMPLE]})

    id: int
    station_id: int
    name: str
    subject: str
    segment_id: int | None
    status: CampaignStatus
    send_at: datetime | None = Field(description="When it goes (scheduled) or went out.")
    started_at: datetime | None = Field(description="When its recipients were fixed and sending began.")
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    stats: CampaignStats
    actions: list[CampaignAction] = Field(
        description="What may be done with it now (its status allows, and your role may): what a client offers.")


class CampaignRead(CampaignSummary):
    model_config = ConfigDict(json_schema_extra={"examples": [{**SUMMARY_EXAMPLE, "body_markdown": BODY_EXAMPLE}]})

    body_markdown: str


class CampaignPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [SUMMARY_EXAMPLE], "next_cursor": None}]})

    items: list[CampaignSummary]
    next_cursor: str | None


class CampaignTest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "me@example.com"}]})

    email: Email


class CampaignTestSent(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "to": "me@example.com", "subject": "[Test] Free gyoza for December parties"}]})

    to: str
    subject: str


class CampaignSend(BaseModel):
    """Without `send_at` it goes now; with one (in the future), it waits until then."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"send_at": "2026-12-05T17:00:00Z"}, {}]})

    send_at: Moment | None = None


class CampaignCancel(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"reason": "The offer was withdrawn."}]})

    reason: single_line(300)


class CampaignPreviewRequest(BaseModel):
    """What the editor has typed, not saved yet."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "station_id": 1, "subject": "Free gyoza for December parties", "body_markdown": BODY_EXAMPLE}]})

    station_id: StationId
    subject: single_line(200, min_length=0)
    body_markdown: multi_line(50_000, min_length=0)


class RenderedPreview(BaseModel):
    """The email as a recipient would get it, in the station's brand (links not tracked, unsubscribe a
    placeholder)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "subject": "Free gyoza for December parties", "html": "<!doctype html><html>…</html>",
        "text": "Holiday parties\n\nBook a December date…"}]})

    subject: str
    html: str
    text: str


class ActivityBucket(BaseModel):
    start: datetime = Field(description="The hour or day, in the station's local time with its offset.")
    opens: int
    clicks: int


class CampaignActivity(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "campaign_id": 7, "timezone": "America/Los_Angeles", "granularity": "hour", "buckets": [
            {"start": "2026-12-02T09:00:00-08:00", "opens": 31, "clicks": 9},
            {"start": "2026-12-02T10:00:00-08:00", "opens": 12, "clicks": 3}]}]})

    campaign_id: int
    timezone: str
    granularity: Literal["hour", "day"] = Field(
        description="Hours while the activity spans its first 48 hours, then days.")
    buckets: list[ActivityBucket]
