"""The compact ZIP table reads back exactly what the `zipcodes` package says for every one of its ZIP codes (so
distances, travel fees and time zones are what they were), and knows nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
import zipcodes

from myhibachi.pricing.distance import UnknownZip, zip_centroid, zip_time_zone
from myhibachi.pricing.zip_table import DATA, build, zip_table


def test_every_zip_reads_back_as_the_package_has_it() -> None:
    rows = zipcodes.list_all()
    assert len(zip_table().zips) == len(rows)
    for row in rows:
        code = row["zip_code"]
        assert zip_centroid(code) == (float(row["lat"]), float(row["long"])), code
        assert zip_time_zone(code) == (row["timezone"] or None), code


@pytest.mark.parametrize("code", ["00000", "99999", "9453", "945380", "9453x", "", "٩٤٥٣٨"])
def test_a_zip_it_does_not_know_is_unknown(code: str) -> None:
    with pytest.raises(UnknownZip):
        zip_centroid(code)
    assert zip_time_zone(code) is None


def test_the_shipped_table_is_the_one_the_build_writes(tmp_path: Path) -> None:
    build(tmp_path / "zip_table.bin")
    assert (tmp_path / "zip_table.bin").read_bytes() == DATA.read_bytes()
