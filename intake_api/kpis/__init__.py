"""Service KPIs over a time window (AI handling share, response times, SLA, CSAT, repeats)."""
