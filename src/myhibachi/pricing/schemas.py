"""Quote API shapes (SPEC §4)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, WrapSerializer

from myhibachi.pricing.quote import PROTEIN_ENTITLEMENT, PartyOrder, Quote

Count = Annotated[int, Field(ge=0, le=1000, strict=True)]
Choices = Annotated[dict[Annotated[str, Field(max_length=40)], Count], Field(max_length=50)]
PROTEINS_DESCRIPTION = (
    "Base protein choices: {code: quantity} from the station's `base_proteins`. Optional; when given they must add "
    f"up to the party's entitlement ({PROTEIN_ENTITLEMENT}), else 422 `protein_count`.")


class QuoteRequest(BaseModel):
    station_id: Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]
    zip_code: Annotated[str, Field(pattern=r"^\d{5}$", description="Venue ZIP code (5 digits).")]
    adults: Count
    children: Count = 0
    toddlers: Count = 0
    upgrades: Choices = Field(default_factory=dict, description="Premium protein swapped in: {code: quantity}.")
    extra_proteins: Choices = Field(default_factory=dict, description="Proteins added on top: {code: quantity}.")
    addons: Choices = Field(default_factory=dict, description="Sides: {code: quantity}.")
    proteins: Choices = Field(default_factory=dict, description=PROTEINS_DESCRIPTION)

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "station_id": 1, "zip_code": "94536", "adults": 12, "children": 4, "toddlers": 1,
        "upgrades": {"filet_mignon": 3}, "extra_proteins": {}, "addons": {"gyoza": 1},
        "proteins": {"chicken": 12, "ny_strip": 10, "shrimp": 11}}]})

    def to_order(self) -> PartyOrder:
        return PartyOrder(adults=self.adults, children=self.children, toddlers=self.toddlers,
                          upgrades=self.upgrades, extra_proteins=self.extra_proteins, addons=self.addons,
                          proteins=self.proteins)


class QuoteLineRead(BaseModel):
    code: str
    label: str
    quantity: int
    unit_cents: int
    amount_cents: int


class GratuityRead(BaseModel):
    percent: int
    amount_cents: int


class QuoteRead(BaseModel):
    lines: list[QuoteLineRead]
    food_subtotal_cents: int
    minimum_adjustment_cents: int
    travel_miles: float
    travel_fee_cents: int
    tax_cents: int
    total_cents: int
    deposit_cents: int
    balance_cents: int
    suggested_gratuity: list[GratuityRead]
    currency: str

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "lines": [
            {"code": "adult", "label": "Adult (13+)", "quantity": 12, "unit_cents": 5500, "amount_cents": 66000},
            {"code": "child", "label": "Child (6–12)", "quantity": 4, "unit_cents": 3000, "amount_cents": 12000},
            {"code": "toddler", "label": "Toddler (5 and under)", "quantity": 1, "unit_cents": 0, "amount_cents": 0},
            {"code": "upgrade:filet_mignon", "label": "Upgrade to filet mignon", "quantity": 3, "unit_cents": 500,
             "amount_cents": 1500},
            {"code": "addon:gyoza", "label": "Gyoza", "quantity": 1, "unit_cents": 1000, "amount_cents": 1000}],
        "food_subtotal_cents": 80500, "minimum_adjustment_cents": 0, "travel_miles": 41.3,
        "travel_fee_cents": 2400, "tax_cents": 6641, "total_cents": 89541, "deposit_cents": 10000,
        "balance_cents": 79541,
        "suggested_gratuity": [{"percent": 20, "amount_cents": 16100}, {"percent": 25, "amount_cents": 20125}],
        "currency": "USD"}]})

    @classmethod
    def of(cls, quote: Quote) -> QuoteRead:
        return cls.model_validate(quote, from_attributes=True)  # its fields are the Quote's, by name


def _miles_as_a_number(quote: Quote, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
    fields: dict[str, Any] = dump(quote)
    fields["travel_miles"] = float(quote.travel_miles)  # as `QuoteRead` sends them (a Decimal's JSON is a string)
    return fields


# A `Quote` as the API sends it: `QuoteRead`'s JSON to the byte (tested), dumped from the dataclass itself, without
# building a `QuoteRead` first (which took three times as long as the dump). The quote route returns it.
QuoteJson = Annotated[Quote, WrapSerializer(_miles_as_a_number, when_used="json")]
