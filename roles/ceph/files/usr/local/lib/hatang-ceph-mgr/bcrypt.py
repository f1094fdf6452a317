"""Stands in for python3-bcrypt inside ceph-mgr (Debian 13: Ceph 18.2.7, bcrypt 4.2).

ceph-mgr runs each module in a Python sub-interpreter, and bcrypt 4.x (Rust, PyO3) refuses to
load in one ("PyO3 modules do not yet support subinterpreters"); mgr_util imports it at the top,
so every module fails. Only the dashboard hashes passwords with it, and hatang does not run the
dashboard: each use raises.
"""


def _unavailable(*_args: object, **_kwargs: object) -> bytes:
    raise NotImplementedError("bcrypt is not available inside ceph-mgr on this host (see hatang's ceph role)")


gensalt = hashpw = checkpw = kdf = _unavailable
