"""Operations for workers: Prometheus metrics and a health endpoint (``--metrics-port``).

See :mod:`polyout._metrics._endpoint`. Needs the extra ``polyout[metrics]``
(prometheus-client), imported only when an endpoint is asked for.
"""

from polyout._metrics._request import (
    MetricsRequest,
    metrics_host,
    metrics_port,
    take_metrics_request,
)

__all__ = ["MetricsRequest", "metrics_host", "metrics_port", "take_metrics_request"]
