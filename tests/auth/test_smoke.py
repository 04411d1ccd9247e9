from myhibachi.auth.permissions import Role


async def test_admin_signs_in_and_sees_own_station(client, make_station, make_user, login):
    station = await make_station("FRE")
    await make_user("ada@example.com", Role.admin, station)
    headers = await login("ada@example.com")
    me = (await client.get("/api/v1/auth/me", headers=headers)).json()
    assert me["stations"][0]["station_id"] == station.id
    assert me["stations"][0]["role"] == "admin"
