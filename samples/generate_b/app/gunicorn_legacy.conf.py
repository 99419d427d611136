# gunicorn settings of the legacy service (sync workers)
workers = 2
worker_class = "sync"
timeout = 2
graceful_timeout = 5
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(L)s %({x-request-id}i)s'
