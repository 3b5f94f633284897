"""The reference OMS ("store-agent oms-sim"): the whole Store Sync API v1, in memory.

For demos, dry runs and tests: several stores, a change feed with long poll and
compaction, idempotent events echoed on the feed, fault injection, an admin API.
"""

from sync.oms_sim.app import create_app
from sync.oms_sim.faults import FaultSpec, ScriptedAnswer
from sync.oms_sim.server import OmsSimServer, run_oms_sim
from sync.oms_sim.state import SimState

__all__ = ["FaultSpec", "OmsSimServer", "ScriptedAnswer", "SimState", "create_app", "run_oms_sim"]
