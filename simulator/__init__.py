"""A seeded, simulated engineering organisation and an HTTP emulator of the APIs it exposes.

It stands for the outside world (GitHub REST and PagerDuty REST v2; in the `mixed` scale also GitLab REST v4
and Jenkins) and shares no code with `ingestion/`
or `models/`, so contract and truth tests can catch a misunderstanding on either side.
"""

from simulator.emulator import Emulator
from simulator.world import World, generate_org

__all__ = ["Emulator", "World", "generate_org"]
