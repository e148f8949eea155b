"""Dagster sensors: new turns in the Postgres log, and the reflection job stream in Redis."""

from sensors.conversations import new_conversation_sensor
from sensors.reflections import reflection_sensor

ALL_SENSORS = [new_conversation_sensor, reflection_sensor]

__all__ = ["ALL_SENSORS", "new_conversation_sensor", "reflection_sensor"]
