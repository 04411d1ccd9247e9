"""Payment analytics and KPIs per station, in its time zone."""
