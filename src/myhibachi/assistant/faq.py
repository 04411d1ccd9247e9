"""The FAQ: the questions visitors ask about the station's terms, each answered by a template whose every number is a
placeholder of the station's rules (`inbox.canned.PLACEHOLDERS`), so an answer always agrees with the site.

Retrieval is rapidfuzz, as understanding is: each entry's key phrases spotted with typos allowed, then the entry's
sample questions compared word-set to word-set to break ties and to catch a question phrased without a key phrase.
bm25s was the other candidate; it pulls numpy and scipy (tens of MB per process, see issue 21) to rank a table of a
few dozen short entries, which a phrase table ranks as well and explains better."""

from __future__ import annotations

from dataclasses import dataclass

from myhibachi.assistant.lexicon import Phrases, normalize, words
from myhibachi.inbox.canned import render_body
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.models import Station

SIMILAR_ENOUGH = 80  # a sample question this like the message (token_set_ratio) answers it without a key phrase


@dataclass(frozen=True)
class FaqEntry:
    topic: str
    phrases: tuple[str, ...]  # key phrases (lexicon.Phrases syntax: "cancel*")
    questions: tuple[str, ...]  # how visitors ask it
    answer: str  # placeholders of inbox.canned.PLACEHOLDERS; no number of its own


@dataclass(frozen=True)
class FaqAnswer:
    topic: str
    question: str  # the sample question that matched best
    answer: str  # rendered with the station's rules
    score: float


FAQ: tuple[FaqEntry, ...] = (
    FaqEntry("deposit", ("deposit*", "down payment", "downpayment", "retainer", "upfront", "up front",
                         "hold the date", "hold my date", "hold our date"),
             ("how much is the deposit", "do you need a deposit", "what do I pay to hold the date"),
             "A {deposit} deposit holds your date; it comes off your total. After you book we hold the chef for "
             "{deposit_hours} hours while the deposit is paid."),
    FaqEntry("minimum", ("minimum", "minimums", "min", "mininum", "minumum", "smallest party", "minimum order",
                         "minimum spend", "too small", "how few"),
             ("is there a minimum", "what is the party minimum", "is there a minimum number of guests"),
             "The party minimum is {minimum} of food (before travel and tax). A smaller party is welcome and pays "
             "the minimum."),
    FaqEntry("travel", ("travel*", "mileage", "miles", "distance", "far", "trip charge", "gas fee", "drive"),
             ("is there a travel fee", "how far do you travel", "do you charge for travel"),
             "Travel is free within {travel_free_miles} miles of {station}; after that it is {travel_per_mile} a "
             "mile. We go up to {max_service_miles} miles."),
    FaqEntry("service_area", ("service area", "do you serve", "serve my area", "serve our area", "come to",
                              "come out to", "my area", "our area", "my city", "my zip", "do you go", "cover",
                              "located", "where are you"),
             ("do you come to my area", "what areas do you serve", "do you serve my city"),
             "{station} serves addresses up to {max_service_miles} miles away; travel is free within "
             "{travel_free_miles} miles, then {travel_per_mile} a mile. Send your ZIP code and we will tell you."),
    FaqEntry("menu", ("menu*", "protein*", "what food", "food options", "meat options", "what do you serve",
                      "upgrade*", "lobster*", "filet*", "vegetarian", "vegan", "tofu", "add on*", "addon*", "sides"),
             ("what is on the menu", "what proteins do you have", "what upgrades do you have"),
             "Every guest's plate has proteins chosen from {base_proteins}. Upgrades: "
             "{protein_upgrades}. An extra protein is {extra_protein}. Add-ons: {addons}."),
    FaqEntry("prices", ("price*", "pricing", "how much", "cost*", "per person", "per head", "rate*", "charge*"),
             ("how much per person", "what are your prices", "how much does it cost"),
             "{adult_price} per adult, {child_price} per child, {toddler_price} for a toddler; the party minimum "
             "is {minimum} of food. Tax is {tax_rate} of the food; travel beyond {travel_free_miles} miles is "
             "{travel_per_mile} a mile."),
    FaqEntry("kids_prices", ("kid*", "child*", "children", "toddler*", "baby", "babies", "little ones",
                              "kid* price*", "child* price*", "kids eat"),
             ("how much for kids", "do kids eat free", "what is the price for children"),
             "A child is {child_price} and a toddler {toddler_price}; an adult is {adult_price}."),
    FaqEntry("cancellation", ("cancel*", "cancle*", "call it off", "call off"),
             ("what is your cancellation policy", "can I cancel", "what if we cancel"),
             "Cancel at least {refund_hours} hours before the party and your {deposit} deposit is refunded in full; "
             "later than that, the deposit is kept."),
    FaqEntry("refund", ("refund*", "money back", "deposit back", "reimburs*", "nonrefundable", "non refundable"),
             ("is the deposit refundable", "can I get a refund", "do I get my money back"),
             "The {deposit} deposit is refunded in full when you cancel at least {refund_hours} hours before the "
             "party; after that it is not refunded."),
    FaqEntry("reschedule", ("reschedul*", "postpone*", "move the date", "change the date", "different date",
                            "another date", "push it back", "new date", "rain check", "raincheck"),
             ("can I reschedule", "can we change the date", "what if it rains"),
             "Your first reschedule is free when asked at least {free_reschedule_hours} hours before the party; "
             "otherwise a {reschedule_fee} fee is added to the balance. Guest numbers can change until "
             "{guest_change_hours} hours before, the menu until {menu_change_hours} hours before."),
    FaqEntry("allergies", ("allerg*", "alergy", "alergies", "alergic", "gluten*", "peanut*", "nut", "nuts",
                           "shellfish", "dairy", "celiac", "sesame", "soy", "intoleran*"),
             ("can you handle allergies", "is the food gluten free", "we have a shellfish allergy"),
             "Tell us every allergy when you book (each booking records them) and the chef cooks around them: a "
             "guest can have tofu or chicken instead of shellfish, for instance. Our kitchen is not allergen-free, "
             "so for a severe allergy please ask us first."),
    FaqEntry("included", ("included", "includes", "include", "what comes with", "what do we get",
                          "what's included", "whats included", "comes with"),
             ("what is included", "what does the price include", "what comes with the party"),
             "The price includes the chef, the show at your grill, and every guest's plate with proteins "
             "chosen from {base_proteins}; upgrades and add-ons cost extra. Travel beyond {travel_free_miles} "
             "miles and tax ({tax_rate}) are added; gratuity is up to you."),
    FaqEntry("duration", ("how long", "duration", "hours long", "how many hours", "last", "lasts", "length"),
             ("how long does the party last", "how long is the show", "how long will the chef be there"),
             "A party lasts {event_minutes} minutes, or {large_party_minutes} minutes from {large_party_guests} "
             "guests; the chef arrives before to set up."),
    FaqEntry("host_provides", ("provide", "provides", "we need", "do we need", "bring", "tables", "chairs",
                               "plates", "utensils", "setup", "set up", "grill", "propane", "space"),
             ("what do I need to provide", "do we need tables and chairs", "do you bring the grill"),
             "The chef brings the grill, the propane, the food and the cooking tools. You provide the tables and "
             "chairs for your guests, plates and cutlery, drinks, and a flat outdoor spot for the grill."),
    FaqEntry("payment", ("pay*", "payment*", "card*", "credit", "cash", "venmo", "zelle", "check", "balance"),
             ("how do I pay", "what payment methods do you take", "do you take cash"),
             # Which online ways are offered is the install's settings (payments.queries.payment_options), not a rule:
             # the booking's page lists them.
             "The {deposit} deposit is paid within {deposit_hours} hours of booking and comes off the total; the "
             "balance is due at the event. Your booking's page shows the ways to pay online, and the team records "
             "a payment in cash or by check for you."),
    FaqEntry("times", ("what time*", "start time*", "times", "time slot*", "what hours", "when can", "how early",
                       "how late", "notice", "last minute", "how far ahead", "advance"),
             ("what times can the party start", "how much notice do you need", "how far in advance should I book"),
             "Parties start at {start_times}. Book at least {min_notice_hours} hours ahead and up to "
             "{max_days_ahead} days ahead."),
    FaqEntry("party_size", ("how many people", "how many guests", "max guests", "maximum", "largest", "big party",
                            "large party", "how big",
                            "biggest", "max", "most guests", "how many can you"),
             ("how many guests can you serve", "what is the largest party", "is there a maximum"),
             "We cook for up to {guests_max} guests; from {large_party_guests} guests the party runs "
             "{large_party_minutes} minutes. The food minimum is {minimum}."),
)
_PHRASES = {entry.topic: Phrases(entry.phrases) for entry in FAQ}


def faq_answers(text: str, rules: BusinessRules, station: Station) -> list[FaqAnswer]:
    """Every entry the message asks about, best first: those with a key phrase in the message, ranked by how many and
    by the closest sample question, then an entry whose sample question is close enough on its own."""
    from rapidfuzz import fuzz  # here: only a process that reads chat messages loads it

    text_words = words(text)
    message = " ".join(text_words) or normalize(text)
    scored = []
    for entry in FAQ:
        hits = len(_PHRASES[entry.topic].found(text_words))
        question, likeness = max(((q, fuzz.token_set_ratio(message, q)) for q in entry.questions),
                                 key=lambda pair: pair[1])
        if hits or likeness >= SIMILAR_ENOUGH:
            scored.append((hits + likeness / 100, entry, question))
    scored.sort(key=lambda item: -item[0])
    return [FaqAnswer(entry.topic, question, render_body(entry.answer, rules, station), round(score, 3))
            for score, entry, question in scored]


def answer_faq(text: str, rules: BusinessRules, station: Station) -> FaqAnswer | None:
    """The entry the message asks about most, rendered with the station's rules; None when it asks none of them."""
    answers = faq_answers(text, rules, station)
    return answers[0] if answers else None
