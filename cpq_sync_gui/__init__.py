"""CPQ Sync: bulk sync of Salesforce CPQ Accounts and Orders into Zuora Billing."""

# _version.py is kept equal to pyproject (the packaging tests check the frozen app reports it);
# reading it is instant, where importlib.metadata costs ~25 ms of every start-up.
from cpq_sync_gui._version import VERSION as __version__

__all__ = ["__version__"]
