"""The lookup service: what a phone opens when it scans a stamp, and the JSON API that
marketplaces and inspectors call (Starlette ASGI app; ``pip install 'antifake[service]'``).

```python
from antifake.service import create_app
app = create_app(registry=reg, keyring=ring, base="https://xacthuc.example.vn/abc")
```
Run it with any ASGI server (``uvicorn``), or alone with ``antifake serve``. See the service
documentation for the routes, the rate limits and deployment.
"""

from antifake.service._common import ApiError, Limits
from antifake.service.apikeys import ApiKeyStore
from antifake.service.app import CSP, create_app
from antifake.service.ratelimit import Limit, RateLimiter

__all__ = ["CSP", "ApiError", "ApiKeyStore", "Limit", "Limits", "RateLimiter", "create_app"]
