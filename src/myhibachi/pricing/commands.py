"""Editing a station's business rules (admin of that station), audited with what changed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.pricing.models import StationRules
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.queries import get_station


async def update_rules(session: AsyncSession, principal: Principal, station_id: int,
                       rules: BusinessRules) -> BusinessRules:
    principal.authorize(Permission.rules_manage, station_id)
    await get_station(session, station_id)
    before = (await get_rules(session, station_id)).model_dump(mode="json")
    after = rules.model_dump(mode="json")
    row = await session.get(StationRules, station_id)
    if row is None:
        session.add(StationRules(station_id=station_id, rules=after, updated_by_user_id=principal.user_id))
    else:
        row.rules, row.updated_by_user_id = after, principal.user_id
    await session.flush()
    changed = sorted(key for key in after if before.get(key) != after[key])
    if changed:
        await record_audit(session, actor_user_id=principal.user_id, action="rules.update",
                           target_type="station_rules", target_id=station_id, station_id=station_id,
                           before={k: before.get(k) for k in changed}, after={k: after[k] for k in changed})
    return rules
