"""Admin pages for bookings: a station's list and calendars (`listing`), a booking's page (`detail`) and each
action as a page that shows its consequence under the station's policies before it is confirmed (`flows`, with the
actions in `lifecycle`, `changes` and `money`), the run sheet of today or the week (`today`) and the search of every
page's header (`search`). Every rule is the bookings and payments domains' own: these
routes read the form, call the same commands and queries as the JSON API and render what they answer."""

from fastapi import APIRouter

from myhibachi.web.admin.bookings import detail, flows, listing, prep, search, today

router = APIRouter(include_in_schema=False)
for module in (listing, today, search, detail, flows, prep):  # prep: the kitchen's list of a day
    router.include_router(module.router)
