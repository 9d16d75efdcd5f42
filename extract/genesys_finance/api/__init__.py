"""Genesys Cloud API: OAuth, a paced and retrying HTTP client, detail jobs, dimension paging."""

from genesys_finance.api.auth import GenesysClientCredentials
from genesys_finance.api.errors import ApiError, AuthenticationError
from genesys_finance.api.http import ApiClient, RequestPacer, RetryPolicy
from genesys_finance.api.jobs import JobState, JobStatus, ResultsPage, ResultsUnavailable

__all__ = [
    "ApiClient",
    "ApiError",
    "AuthenticationError",
    "GenesysClientCredentials",
    "JobState",
    "JobStatus",
    "RequestPacer",
    "ResultsPage",
    "ResultsUnavailable",
    "RetryPolicy",
]
