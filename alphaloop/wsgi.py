"""WSGI entry point: the production HTTP server (gunicorn, the Procfile's ``web``).

Pages and the REST API cost 3-5x less CPU per request here than through Daphne (measured in
``benchmarks/load_system.py``); Daphne (``ws``) keeps the WebSocket. gunicorn's threads live as
long as the worker, so database connections are kept between requests (checked before reuse).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alphaloop.settings")
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
application = get_wsgi_application()

from alphaloop.contract import warm_up  # noqa: E402

warm_up()  # the API schema and request contracts, built before the first request (thread-safe either way)
