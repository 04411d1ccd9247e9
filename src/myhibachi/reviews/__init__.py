"""Reviews without gating: every customer is asked the same way (the station's public review pages and a private
feedback form); private ratings are credited to the event's chef, and a low one opens a follow-up task."""
