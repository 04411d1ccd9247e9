"""The chef roster of each station: who cooks, on which weekdays, how many events a day, and time-off."""
