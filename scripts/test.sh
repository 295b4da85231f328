#!/usr/bin/env bash
# The whole test suite on a fresh machine: install what the tests need, then run them.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k linreg`).
set -euo pipefail
cd "$(dirname "$0")/.."

# From Debian: Chromium for the browser tests (driven by Playwright for Python; never `playwright install`),
# redis-server for the scale-out tests (they start their own on 127.0.0.1 and a free port),
# docker-compose, whose `config` validates the compose files without a Docker engine, and PostgreSQL for
# the run store's tests (tests/runs/conftest.py), when nothing answers on 127.0.0.1:5432 and no server is
# installed.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
pg_port=5432
pg_cluster=main
pg_answers() {
    if pg_isready --version >/dev/null 2>&1; then  # not Debian's wrapper without a client version
        pg_isready -q -h 127.0.0.1 -p "$pg_port" -t 2
    else
        timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$pg_port" 2>/dev/null
    fi
}
pg_down=
if ! pg_answers; then
    pg_down=1
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
fi
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Start it (the package creates cluster <version>/main but, in a container, does not start it), letting
# user postgres in over TCP from 127.0.0.1 without a password: Debian's pg_hba.conf asks for one (scram), and
# its first matching line wins, so a trust line goes on top.
if [[ -n $pg_down ]]; then
    if ! compgen -G "/etc/postgresql/*/$pg_cluster/postgresql.conf" >/dev/null; then
        (cd / && pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" "$pg_cluster" >/dev/null)
    fi
    pg_version=$(cd /etc/postgresql && ls -d -- */"$pg_cluster" | sort -V | tail -n 1)
    pg_version=${pg_version%%/*}
    pg_hba=/etc/postgresql/$pg_version/$pg_cluster/pg_hba.conf
    pg_trust="host all postgres 127.0.0.1/32 trust"
    grep -qxF "$pg_trust" "$pg_hba" || sed -i "1i $pg_trust" "$pg_hba"
    pg_ctl=(pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster")
    if (cd / && "${pg_ctl[@]}" status >/dev/null 2>&1); then
        (cd / && "${pg_ctl[@]}" reload)
    else
        (cd / && "${pg_ctl[@]}" start)
    fi
    for _ in $(seq 60); do
        pg_answers && break
        sleep 0.5
    done
    pg_answers || {
        echo "PostgreSQL $pg_version/$pg_cluster does not answer on 127.0.0.1:$pg_port;" \
            "see /var/log/postgresql/postgresql-$pg_version-$pg_cluster.log" >&2
        exit 1
    }
fi

# The CPU wheel of torch first: an unpinned torch would pull a multi-GB CUDA build.
python3 -m pip install --quiet --disable-pip-version-check torch==2.13.0
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

ruff check app tests bench
ruff format --check app tests bench
python3 -m pytest "$@"
