"""The row <-> entity functions and the prepared statements the repositories share."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    func,
    select,
)

from elyune_adapters.sql import tables as t

_FILES_OF_ONE = select(t.recording_files).where(
    t.recording_files.c.recording_id == bindparam("recording_id")
)


_STEPS_OF_ONE = select(t.job_steps).where(t.job_steps.c.job_id == bindparam("job_id"))


_STEPS_OF_MANY = select(t.job_steps).where(
    t.job_steps.c.job_id.in_(bindparam("ids", expanding=True))
)


_TRANSCRIPT = select(t.transcripts).where(t.transcripts.c.recording_id == bindparam("recording_id"))


_SEGMENTS = (
    select(t.transcript_segments)
    .where(t.transcript_segments.c.recording_id == bindparam("recording_id"))
    .order_by(t.transcript_segments.c.idx)
)


_ANALYSES = select(t.analyses).where(t.analyses.c.recording_id == bindparam("recording_id"))


_FILE_COLUMNS = tuple(c for c in t.recording_files.c if c.name != "recording_id")


_STEP_COLUMNS = tuple(c for c in t.job_steps.c if c.name != "job_id")


# A recording's job and its steps in one round trip (one row per step).
_JOB_OF_RECORDING = (
    select(t.jobs, *(column.label(f"s_{column.name}") for column in _STEP_COLUMNS))
    .select_from(t.jobs.outerjoin(t.job_steps, t.job_steps.c.job_id == t.jobs.c.id))
    .where(t.jobs.c.recording_id == bindparam("recording_id"))
)


@functools.cache
def _recording_by_id(*, by_owner: bool, for_update: bool) -> Select[Any]:
    query = select(t.recordings).where(t.recordings.c.id == bindparam("recording_id"))
    if by_owner:
        query = query.where(t.recordings.c.owner_id == bindparam("owner_id"))
    return query.with_for_update() if for_update else query


@functools.cache
def _recording_with_files(*, by_owner: bool) -> Select[Any]:
    """A recording and its files in one round trip (one row per file)."""
    f = t.recording_files.c
    query = (
        select(t.recordings, *(column.label(f"f_{column.name}") for column in _FILE_COLUMNS))
        .select_from(t.recordings.outerjoin(t.recording_files, f.recording_id == t.recordings.c.id))
        .where(t.recordings.c.id == bindparam("recording_id"))
    )
    if by_owner:
        query = query.where(t.recordings.c.owner_id == bindparam("owner_id"))
    return query


@functools.cache
def _listing(
    *, owner: bool, status: bool, before: bool, after: bool, search: bool
) -> tuple[Select[Any], Select[Any], Select[Any]]:
    """The count and the page statements of a listing with these filters, and the page
    with the count as one more column (``x_total``: one round trip for both)."""
    r = t.recordings.c
    conditions = []
    if owner:
        conditions.append(r.owner_id == bindparam("owner_id"))
    if status:
        conditions.append(r.status == bindparam("status"))
    if before:
        conditions.append(r.created_at < bindparam("before"))
    if after:
        conditions.append(r.created_at >= bindparam("after"))
    if search:
        conditions.append(func.lower(r.title).like(bindparam("pattern"), escape="\\"))
    where = and_(True, *conditions)
    count = select(func.count()).select_from(t.recordings).where(where)
    page = (
        select(t.recordings)
        .where(where)
        .order_by(r.created_at.desc(), r.id.desc())
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
        .subquery("page")
    )
    f = t.recording_files.c
    # One round trip: the page's rows, each repeated once per stored file (or once
    # with NULL file columns when it has none).
    with_files = (
        select(page, *(column.label(f"f_{column.name}") for column in _FILE_COLUMNS))
        .select_from(page.outerjoin(t.recording_files, f.recording_id == page.c.id))
        .order_by(page.c.created_at.desc(), page.c.id.desc())
    )
    counted = with_files.add_columns(count.scalar_subquery().label("x_total"))
    return count, with_files, counted
