"""A day on the site, for locust: customers browse, price parties, look for free times, book, and open their booking's
manage link; a few staff watch the dashboard and the bookings list. Needs the demo data (`myhibachi seed-demo`): its
stations and its admin (admin@example.com). The proportions (per 100 customer actions: ~45 pages, 20 quotes,
20 availability looks, 5 bookings, 10 manage views; one staff member a dozen customers) follow the funnel: most
visitors read and price, few book. Bookings are held (pending deposit) with a unique email and a free time from the
availability just read; a 409 (someone took the time first) is a valid answer, not an error.

Run it through benchmarks/scale_out.py, or against a running stack (loopback only, headless, bounded):
  .venv/bin/locust -f benchmarks/locustfile.py --headless -u 40 -r 20 -t 60s -H http://127.0.0.1:8000 --only-summary
The stack must allow the load's booking holds from one address: BOOKING_HOLDS_PER_IP (scale_out.py sets it).
"""

from __future__ import annotations

import itertools
import os
import random
import re
import uuid
from datetime import date, timedelta

from locust import FastHttpUser, between, task

PAGES = ["/", "/", "/menu", "/quote", "/faq", "/book", "/locations/FRE", "/contact"]
# A venue near each demo station (demo.py): a ZIP far from a station is out of its area (422), which is not the load.
VENUES = {"FRE": ("4100 Mowry Ave", "Fremont", "CA", "94538"), "SAC": ("915 I St", "Sacramento", "CA", "95814"),
          "AUS": ("301 W 2nd St", "Austin", "TX", "78701")}
DEMO_ADMIN = ("admin@example.com", "hibachi-demo-pass")  # demo.py's admin of FRE; the demo password
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_serial = itertools.count()
# Think time between a user's actions: LOAD_THINK times the human one (scale_out.py sets 0, to saturate the server).
THINK = float(os.environ.get("LOAD_THINK", "1"))
ACTIONS_PER_VISIT = 8


class Customer(FastHttpUser):
    """A stream of visitors: after ACTIONS_PER_VISIT actions one leaves and the next arrives on new connections, as
    real visitors do (a user that kept its connections for the whole run would stay with the app process that
    happened to accept them, so a second process would get a share of the load fixed at the start)."""

    weight = 12

    def on_start(self) -> None:
        listed = self.client.get("/api/v1/stations", name="stations").json()
        self.stations = [(s["id"], VENUES[s["code"]]) for s in listed if s["code"] in VENUES]
        self.tokens: list[str] = []
        self.actions = 0

    def wait_time(self) -> float:
        self.actions += 1
        if self.actions % ACTIONS_PER_VISIT == 0:
            self.client.client.clientpool.close()  # the next action connects again
        return random.uniform(0.5 * THINK, 2 * THINK)  # noqa: S311 - load, not secrets

    def _window(self) -> tuple[int, tuple[str, str, str, str], date, date]:
        start = date.today() + timedelta(days=random.randint(14, 300))  # noqa: S311 - load, not secrets
        station, venue = random.choice(self.stations)  # noqa: S311
        return station, venue, start, start + timedelta(days=6)

    @task(45)
    def browse(self) -> None:
        page = random.choice(PAGES)  # noqa: S311
        self.client.get(page, name=f"page {page}")

    @task(20)
    def quote(self) -> None:
        station, venue = random.choice(self.stations)  # noqa: S311
        self.client.post("/api/v1/quotes", name="quote", json={
            "station_id": station, "zip_code": venue[3],
            "adults": random.randint(10, 40), "children": random.randint(0, 6)})  # noqa: S311

    @task(20)
    def availability(self) -> None:
        station, _, start, end = self._window()
        self.client.get(f"/api/v1/stations/{station}/availability", name="availability",
                        params={"start": start.isoformat(), "end": end.isoformat(), "guests": 15})

    @task(5)
    def book(self) -> None:
        station, (line1, city, state, zip_code), start, end = self._window()
        days = self.client.get(f"/api/v1/stations/{station}/availability", name="availability",
                               params={"start": start.isoformat(), "end": end.isoformat(), "guests": 15}).json()
        free = [(day["date"], slot["time"]) for day in days.get("days", []) for slot in day["slots"]
                if slot["available"]]
        if not free:
            return
        day, time = random.choice(free)  # noqa: S311
        serial = f"{uuid.uuid4().hex[:10]}{next(_serial)}"
        with self.client.post("/api/v1/bookings", name="book", catch_response=True, json={
                "station_id": station, "adults": 15, "event_date": day, "slot_time": time, "allergies": "none",
                "venue": {"line1": line1, "city": city, "state": state, "zip_code": zip_code},
                "customer": {"name": "Load Tester", "email": f"load-{serial}@example.com",
                             "phone": "(510) 555-0142"}}) as answer:
            if answer.status_code == 201:
                self.tokens.append(answer.json()["manage_token"])
                answer.success()
            elif answer.status_code == 409:  # the time was taken since we looked: what a customer may see
                answer.success()
            else:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")

    @task(10)
    def manage(self) -> None:
        if self.tokens:
            self.client.get(f"/api/v1/manage/{random.choice(self.tokens)}", name="manage")  # noqa: S311
        else:
            self.browse()


class Staff(FastHttpUser):
    weight = 1
    wait_time = between(2 * THINK, 6 * THINK)

    def on_start(self) -> None:
        page = self.client.get("/admin/login", name="admin login page")
        token = CSRF.search(page.text)
        email, password = DEMO_ADMIN
        with self.client.post("/admin/login", name="admin login", headers={"Origin": self.host}, catch_response=True,
                              data={"csrf_token": token.group(1) if token else "", "email": email,
                                    "password": password, "next": "/admin"}) as answer:
            if 'name="password"' in (answer.text or ""):  # still the sign-in form: not signed in
                answer.failure(f"not signed in ({answer.status_code})")

    @task(1)
    def dashboard(self) -> None:
        self.client.get("/admin", name="staff dashboard")

    @task(2)
    def bookings(self) -> None:
        self.client.get("/admin/bookings", name="staff bookings list")
