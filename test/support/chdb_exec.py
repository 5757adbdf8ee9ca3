#!/usr/bin/env python3
"""Run SQL on a current ClickHouse engine (embedded via the PyPI package `chdb`).

Our SQL targets the local ClickHouse 18.16; tests use this script to check that the
same SQL also works on a current engine, without Docker or a server.

stdin:  {"statements": ["CREATE ...", "INSERT ..."], "queries": ["SELECT ...", ...]}
stdout: one JSON object
        {"version": "<SELECT version()>",
         "results": [{"sql": ..., "ok": true, "rows": [...]}
                     | {"sql": ..., "ok": false, "error": "..."}]}
        Statements run first, in order, then queries; every one is attempted and
        reported (no stop at the first error). A fatal problem (bad input, chdb
        missing) gives {"version": null, "results": [], "error": "..."}.
exit:   0 if everything succeeded, 1 otherwise.

Each run uses a fresh temporary chdb session directory, removed at the end.
"""

import json
import os
import shutil
import sys
import tempfile


def run(sess, sql):
    try:
        out = sess.query(sql, "JSONEachRow").bytes().decode("utf-8")
        return {"sql": sql, "ok": True, "rows": [json.loads(l) for l in out.splitlines() if l.strip()]}
    except Exception as e:  # chdb raises ChdbError (a RuntimeError) with the server's message
        return {"sql": sql, "ok": False, "error": str(e).strip()}


def sql_list(req, key):
    sqls = req.get(key, [])
    if not isinstance(sqls, list) or not all(isinstance(s, str) for s in sqls):
        raise ValueError(f'"{key}" must be a list of SQL strings')
    return sqls


def main():
    # The engine may log to fd 1; keep real stdout for our JSON only.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    report, tmpdir, sess = {"version": None, "results": []}, None, None
    try:
        req = json.load(sys.stdin)
        if not isinstance(req, dict):
            raise ValueError("input must be a JSON object")
        sqls = [*sql_list(req, "statements"), *sql_list(req, "queries")]
        from chdb import session as chs

        tmpdir = tempfile.mkdtemp(prefix="chdb_exec_")
        sess = chs.Session(tmpdir)
        version = run(sess, "SELECT version() AS v")
        report["version"] = version["rows"][0]["v"] if version["ok"] else None
        report["results"] = [run(sess, sql) for sql in sqls]
        ok = version["ok"] and all(r["ok"] for r in report["results"])
    except Exception as e:
        report["error"], ok = f"{type(e).__name__}: {e}", False
    finally:
        if sess is not None:
            sess.cleanup()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    out.write(json.dumps(report) + "\n")
    out.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
