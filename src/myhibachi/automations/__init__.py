"""Automations: per-station email sequences started by what happens to a booking or a lead (a quote left
behind, an event done, a past customer gone quiet, a birthday or anniversary), each stopping at its goal, in the
recipient's waking hours and never more than one marketing message a day to one person."""
