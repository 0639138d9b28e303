"""gunicorn's settings for the web container (Dockerfile CMD and docker-compose.yml's web).

Command-line flags override these (e.g. --bind). The access log leaves out the query string and
the referrer (which holds the previous page's query): searches carry names and MRNs (?q=, ?mrn=).
Its fields: address, time, "method path protocol", status, bytes, duration (ms), user agent.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
accesslog = "-"
errorlog = "-"
# %(U)s is the path without its query string; %(r)s (the request line) and %(f)s would carry it.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
