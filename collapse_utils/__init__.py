"""collapse_utils: the shared package of *Collapse, Reproduced*.

Importing the package first exports the thread settings of :mod:`collapse_utils.config` (before numpy or
torch start their thread pools); then the submodules are available as attributes:

- :mod:`~collapse_utils.config`   seeds, threads, scale profiles (``COLLAPSE_SCALE``), cache directory
- :mod:`~collapse_utils.policies` the data policies Replace / Accumulate / Accumulate-Subsample
- :mod:`~collapse_utils.plotting` one style, one colour per policy
- :mod:`~collapse_utils.theory`   closed forms (numpy only)
- :mod:`~collapse_utils.sim`      Monte-Carlo simulators matching the theory
"""

from collapse_utils import config

config._export_thread_env()

from collapse_utils import checks, loop, plotting, policies, sim, theory  # noqa: E402
from collapse_utils.policies import DataPolicy  # noqa: E402

__all__ = ["DataPolicy", "checks", "config", "loop", "plotting", "policies", "sim", "theory"]
__version__ = "0.1.0"
