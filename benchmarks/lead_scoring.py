"""Lead scoring: the learned win probability against the rule score, on a made-up history with known effects.

Run: .venv/bin/python benchmarks/lead_scoring.py [leads] [seed]
Generates `leads` closed leads (default 5,000, seed 17) with myhibachi.leads.synthetic: facts drawn at random,
measured by the app's own scoring, won with the probability of a logistic whose effects differ from the default
rule weights. Fits the pooled naive Bayes on the first 80 % and judges on the other 20 %: AUC of the learned
probability and of the rule score (the default weights), and the Brier score of the probability against always
answering the training win rate. Then the AUC as the training set grows, and the time to fit and to score.
No database. Prints figures and ratios; not a test.
"""

from __future__ import annotations

import sys
import time

from myhibachi.leads.scoring import fit, predict
from myhibachi.leads.synthetic import auc, evaluate, generate


def main(count: int, seed: int) -> None:
    started = time.perf_counter()
    history = generate(count, seed)
    made = time.perf_counter() - started
    won = sum(h.won for h in history)
    print(f"history: {count} closed leads, {won} won ({100 * won / count:.1f} %), seed {seed}, made in {made:.2f} s")

    judged = evaluate(history)
    print(f"held out: {judged.tested_on} leads (trained on {judged.trained_on})")
    print(f"  AUC learned probability  {judged.auc_learned:.3f}")
    gain = judged.auc_learned - judged.auc_rule
    print(f"  AUC rule score           {judged.auc_rule:.3f}   (learned − rule: {gain:+.3f})")
    print(f"  Brier learned            {judged.brier_learned:.4f}")
    print(f"  Brier base rate          {judged.brier_base_rate:.4f}   "
          f"(learned / base rate: {judged.brier_learned / judged.brier_base_rate:.2f})")

    test = history[int(count * 0.8):]
    outcomes = [h.won for h in test]
    print("AUC by training size (the station's own model needs 50 closed leads):")
    for size in (50, 200, 1000, int(count * 0.8)):
        model = fit(({m.factor: m.value for m in h.measures}, h.won) for h in history[:size])
        print(f"  {size:>6}  {auc([predict(model, h.measures)[0] for h in test], outcomes):.3f}")

    samples = [({m.factor: m.value for m in h.measures}, h.won) for h in history]
    started = time.perf_counter()
    model = fit(samples)
    fitting = time.perf_counter() - started
    started = time.perf_counter()
    for h in history:
        predict(model, h.measures)
    scoring = time.perf_counter() - started
    print(f"fit {count} leads: {1000 * fitting:.1f} ms; predict: {1e6 * scoring / count:.1f} µs a lead")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000, int(sys.argv[2]) if len(sys.argv) > 2 else 17)
