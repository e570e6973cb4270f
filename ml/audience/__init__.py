"""Audience intelligence: who viewers are (segments), who is leaving (churn), and what to do
about it (uplift-based re-engagement under contact-fatigue rules). Plain Python, no Prefect."""
