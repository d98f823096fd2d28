"""Defaults for every setting. Override with VERIFY_<NAME> environment variables or create_app(test_config).

VERIFY_DATA_DIR        folder for the SQLite database and files                     ./data
VERIFY_HOST            address `build.py run` binds                                 127.0.0.1
VERIFY_PORT            port `build.py run` binds                                    8787
VERIFY_MAX_UPLOAD_MB   largest accepted upload, in MB                               50
VERIFY_MAX_PIXELS      largest accepted image, in pixels (decompression-bomb bound) 80000000
VERIFY_CHECK_TIMEOUT_S time budget of one check, in seconds                         20
VERIFY_WORKERS         WSGI worker processes for `build.py run`                     2
VERIFY_RAISE_CHECK_ERRORS  re-raise a check's exception instead of outcome "error" false
VERIFY_URL_MAX_MB      largest download the CLI accepts for an http(s) input        50
VERIFY_URL_TIMEOUT_S   CLI download time limit, in seconds                          30
VERIFY_REFUTATION_TOKEN  bearer token for POST /v1/refutations; unset = writes refused  (unset)
"""

DATA_DIR = "./data"
HOST = "127.0.0.1"
PORT = 8787
MAX_UPLOAD_MB = 50
MAX_PIXELS = 80_000_000
CHECK_TIMEOUT_S = 20.0
WORKERS = 2
RAISE_CHECK_ERRORS = False
URL_MAX_MB = 50
URL_TIMEOUT_S = 30.0
REFUTATION_TOKEN: str | None = None
