"""Constants for the organisation configuration source."""

DEFAULT_INCIDENT_WINDOW_HOURS = 24.0
