"""The assistant's understanding judged on a labelled set of visitor messages written apart from the examples the
code was tuned on (tests/assistant/): intent accuracy (the exact set, and precision/recall per intent), slot accuracy
(per slot, and every slot of a message right) and the first misses.

Run: .venv/bin/python benchmarks/assistant_eval.py [benchmarks/data/assistant_eval.jsonl]
Each line: {"text", "intents": [...], "slots": {adults, children, toddlers, zip_code, event_date "YYYY-MM-DD",
slot_time "HH:MM", upgrades [codes, sorted], name, email, phone (E.164)}}, a slot absent when the message has none.
`today` is fixed (Wednesday 2027-03-10) so the figures repeat. No database. Prints figures; not a test.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

from myhibachi.assistant.understand import INTENTS, SLOTS, Understanding, understand

TODAY = date(2027, 3, 10)
DATA = Path(__file__).parent / "data" / "assistant_eval.jsonl"
SHOWN_MISSES = int(sys.argv[2]) if len(sys.argv) > 2 else 20


def as_labels(said: Understanding) -> dict[str, object]:
    """The slots found, written as the labels are."""
    labels: dict[str, object] = {}
    for slot in SLOTS:
        value = getattr(said, slot)
        if value in (None, ()):
            continue
        if slot == "event_date":
            value = value.isoformat()
        elif slot == "slot_time":
            value = value.strftime("%H:%M")
        elif slot == "upgrades":
            value = sorted(value)
        labels[slot] = value
    return labels


def main(path: Path) -> None:
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    started = time.perf_counter()
    results = [(case, understand(case["text"], TODAY)) for case in cases]
    elapsed = time.perf_counter() - started

    exact_intents = all_slots = 0
    intent_counts = {intent: Counter() for intent in INTENTS}
    slot_counts = {slot: Counter() for slot in SLOTS}
    misses = []
    for case, said in results:
        wanted, got = set(case["intents"]), set(said.intents)
        exact_intents += wanted == got
        for intent in INTENTS:
            intent_counts[intent]["tp"] += intent in wanted and intent in got
            intent_counts[intent]["fp"] += intent not in wanted and intent in got
            intent_counts[intent]["fn"] += intent in wanted and intent not in got
        found = as_labels(said)
        wrong = {}
        for slot in SLOTS:
            expected, actual = case["slots"].get(slot), found.get(slot)
            counts = slot_counts[slot]
            counts["labelled"] += expected is not None
            if expected is None and actual is None:
                continue
            counts["either"] += 1
            counts["right" if expected == actual else "wrong"] += 1
            if expected != actual:
                wrong[slot] = (expected, actual)
        all_slots += not wrong
        if wanted != got or wrong:
            misses.append((case["text"], sorted(wanted), sorted(got), wrong))

    count = len(cases)
    print(f"{count} messages, understood in {1000 * elapsed:.1f} ms ({1e6 * elapsed / count:.0f} µs each), "
          f"today {TODAY}")
    print(f"intents: exact set {exact_intents}/{count} = {100 * exact_intents / count:.1f} %")
    print(f"  {'intent':16} {'labelled':>8} {'precision':>9} {'recall':>7}")
    for intent, counts in intent_counts.items():
        labelled = counts["tp"] + counts["fn"]
        precision = counts["tp"] / (counts["tp"] + counts["fp"]) if counts["tp"] + counts["fp"] else float("nan")
        recall = counts["tp"] / labelled if labelled else float("nan")
        print(f"  {intent:16} {labelled:8} {precision:9.2f} {recall:7.2f}")
    print(f"slots: every slot of the message right {all_slots}/{count} = {100 * all_slots / count:.1f} %")
    print(f"  {'slot':12} {'labelled':>8} {'right':>6} {'wrong':>6} {'accuracy':>8}   (over messages where the label "
          "or the answer has the slot)")
    for slot, counts in slot_counts.items():
        either = counts["either"]
        accuracy = counts["right"] / either if either else float("nan")
        print(f"  {slot:12} {counts['labelled']:8} {counts['right']:6} {counts['wrong']:6} {accuracy:8.2f}")
    print(f"misses: {len(misses)} messages; the first {min(SHOWN_MISSES, len(misses))}:")
    for text, wanted, got, wrong in misses[:SHOWN_MISSES]:
        print(f"  {text!r}")
        if wanted != got:
            print(f"      intents: wanted {wanted}, got {got}")
        for slot, (expected, actual) in wrong.items():
            print(f"      {slot}: wanted {expected!r}, got {actual!r}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA)
