"""CPQ Sync: bulk sync of Salesforce CPQ Accounts and Orders into Zuora Billing."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cpq-sync-gui")
except PackageNotFoundError:  # running from a frozen build or a bare checkout
    from cpq_sync_gui._version import VERSION

    __version__ = VERSION
