"""US ZIP code centroids and time zones, compact: 42,789 ZIPs in ~0.6 MB of arrays (the `zipcodes` package's table
of dicts holds ~56 MB in every process that prices a party). The table is built once from that package
(`python -m myhibachi.pricing.zip_table`, which `zipcodes` is a development dependency for) and shipped as
`zip_table.bin`; a lookup is a binary search. Coordinates are kept as integers of 1/10,000 degree, the package's own
precision, so a centroid reads back as the same float as the package's string does."""

from __future__ import annotations

import gzip
import json
import sys
from array import array
from bisect import bisect_left
from functools import cache
from pathlib import Path
from typing import NamedTuple

DATA = Path(__file__).with_name("zip_table.bin")
SCALE = 10_000  # the package's coordinates have at most four decimals


class ZipTable(NamedTuple):
    zips: array  # sorted, as integers
    lats: array  # 1/10,000 degree
    longs: array
    zones: bytes  # index into `zone_names` per ZIP (0: unknown)
    zone_names: list[str]

    def find(self, zip_code: str) -> int | None:
        if len(zip_code) != 5 or not zip_code.isascii() or not zip_code.isdigit():
            return None
        number = int(zip_code)
        at = bisect_left(self.zips, number)
        return at if at < len(self.zips) and self.zips[at] == number else None

    def centroid(self, zip_code: str) -> tuple[float, float] | None:
        at = self.find(zip_code)
        return None if at is None else (self.lats[at] / SCALE, self.longs[at] / SCALE)

    def time_zone(self, zip_code: str) -> str | None:
        at = self.find(zip_code)
        return None if at is None else (self.zone_names[self.zones[at]] or None)


@cache
def zip_table() -> ZipTable:
    """The shipped table (read once per process: a few milliseconds)."""
    with gzip.open(DATA, "rb") as stored:
        header_size = int.from_bytes(stored.read(4), "big")
        zone_names, count = json.loads(stored.read(header_size))
        zips, lats, longs = array("I"), array("i"), array("i")
        for column in (zips, lats, longs):
            column.frombytes(stored.read(count * column.itemsize))
            if sys.byteorder == "big":  # stored little-endian
                column.byteswap()
        zones = stored.read(count)
    return ZipTable(zips, lats, longs, zones, zone_names)


def build(destination: Path = DATA) -> int:
    """Writes the table from the `zipcodes` package (its first record per ZIP, as `zipcodes.matching` gives);
    how many ZIPs. The arrays are stored little-endian whatever the machine."""
    import zipcodes  # the development dependency this build reads

    rows = sorted(zipcodes.list_all(), key=lambda row: row["zip_code"])
    zone_names = ["", *sorted({row["timezone"] for row in rows if row["timezone"]})]
    zone_index = {name: index for index, name in enumerate(zone_names)}
    zips = array("I", (int(row["zip_code"]) for row in rows))
    lats = array("i", (round(float(row["lat"]) * SCALE) for row in rows))
    longs = array("i", (round(float(row["long"]) * SCALE) for row in rows))
    header = json.dumps([zone_names, len(rows)]).encode()
    # No name and time in the gzip header: the same table gives the same bytes wherever it is built.
    with open(destination, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
        out.write(len(header).to_bytes(4, "big") + header)
        for column in (zips, lats, longs):
            if sys.byteorder == "big":
                column.byteswap()
            out.write(column.tobytes())
        out.write(bytes(zone_index[row["timezone"] or ""] for row in rows))
    return len(rows)


if __name__ == "__main__":
    print(f"{build():,} ZIP codes written to {DATA}")
