# Starts one private MariaDB and one private PostgreSQL for the tests, each
# with a temporary data directory and listening only on a unix socket in it,
# and exports their DSNs:
#
#   CUTOVER_TEST_MYSQL_DSN     go-sql-driver/mysql form, user cutover
#   CUTOVER_TEST_POSTGRES_DSN  pgx URL form, user cutover (trust on the socket)
#
# Source it (bash), from CI or a shell of your own:
#
#   source .ci/databases.sh && cutover_db_start
#   go test ./internal/migrate/...
#   cutover_db_stop
#
# cutover_db_stop stops both servers by the PIDs they wrote and removes the
# data directories; call it from an EXIT trap. As root, MariaDB runs as the
# mysql user and PostgreSQL (which refuses root) as the postgres user; as
# anyone else both run as you. Needs Debian's mariadb-server and postgresql
# packages (their own services may stay stopped).

cutover_db_dir=""

# cutover_db_pgbin prints the directory of PostgreSQL's server binaries.
cutover_db_pgbin() {
  # initdb may be on PATH as a link; its siblings (pg_isready) are where it points.
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] || { echo "databases.sh: PostgreSQL's initdb not found (apt-get install postgresql)" >&2; return 1; }
  echo "$d"
}

# cutover_db_as USER CMD... runs CMD as USER when root, else as the caller.
cutover_db_as() {
  local user=$1; shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

# cutover_db_wait WHAT CMD... runs CMD until it succeeds, for up to 60 s.
cutover_db_wait() {
  local what=$1; shift
  for _ in $(seq 1 300); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "databases.sh: $what did not start; its log:" >&2
  return 1
}

cutover_db_start_mariadb() {
  local d="$cutover_db_dir/mariadb" user
  user=$(id -un)
  [ "$(id -u)" -eq 0 ] && user=mysql
  mkdir -p "$d/data"
  [ "$(id -u)" -eq 0 ] && chown -R mysql: "$d"
  mariadb-install-db --no-defaults --user="$user" --datadir="$d/data" --auth-root-authentication-method=socket \
    --skip-test-db >"$d/install.log" 2>&1 || { cat "$d/install.log" >&2; return 1; }
  # Started in a subshell so that it is no job of the caller's shell.
  (cutover_db_as "$user" mariadbd --no-defaults --datadir="$d/data" --socket="$d/mysql.sock" \
    --pid-file="$d/mariadb.pid" --skip-networking --skip-log-bin --innodb-buffer-pool-size=64M \
    --innodb-log-file-size=16M --innodb-flush-log-at-trx-commit=0 --log-error="$d/error.log" \
    </dev/null >/dev/null 2>&1 &)
  local root=(mariadb --no-defaults --socket="$d/mysql.sock" -u "$user")
  [ "$(id -u)" -eq 0 ] && root=(mariadb --no-defaults --socket="$d/mysql.sock" -u root)
  cutover_db_wait MariaDB "${root[@]}" -e 'SELECT 1' || { cat "$d/error.log" >&2; return 1; }
  "${root[@]}" -e "CREATE USER 'cutover'@'localhost' IDENTIFIED BY 'cutover';
    GRANT ALL ON *.* TO 'cutover'@'localhost' WITH GRANT OPTION;" || return 1
  export CUTOVER_TEST_MYSQL_DSN="cutover:cutover@unix($d/mysql.sock)/"
}

cutover_db_start_postgres() {
  local d="$cutover_db_dir/postgres" bin
  bin=$(cutover_db_pgbin) || return 1
  mkdir -p "$d"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$d"
  cutover_db_as postgres "$bin/initdb" -D "$d/data" -U cutover --auth=trust --no-sync -E UTF8 \
    >"$d/initdb.log" 2>&1 || { cat "$d/initdb.log" >&2; return 1; }
  (cutover_db_as postgres "$bin/postgres" -D "$d/data" -k "$d" -c listen_addresses= -c fsync=off \
    -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB -c max_connections=200 \
    </dev/null >"$d/server.log" 2>&1 &)
  cutover_db_wait PostgreSQL "$bin/pg_isready" -q -h "$d" -U cutover -d postgres || { cat "$d/server.log" >&2; return 1; }
  export CUTOVER_TEST_POSTGRES_DSN="postgres:///postgres?host=$d&user=cutover&sslmode=disable"
}

# cutover_db_start starts both servers and exports their DSNs.
cutover_db_start() {
  cutover_db_dir=$(mktemp -d /tmp/cutover-db.XXXXXX) || return 1
  chmod 755 "$cutover_db_dir"
  cutover_db_start_mariadb || return 1
  cutover_db_start_postgres || return 1
  echo "MariaDB: $CUTOVER_TEST_MYSQL_DSN"
  echo "PostgreSQL: $CUTOVER_TEST_POSTGRES_DSN"
}

# cutover_db_stop_pid FILE stops the process whose PID FILE's first line holds
# and waits until it is gone.
cutover_db_stop_pid() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(head -1 "$f")
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# cutover_db_stop stops both servers and removes their data directories.
cutover_db_stop() {
  [ -n "$cutover_db_dir" ] || return 0
  cutover_db_stop_pid "$cutover_db_dir/mariadb/mariadb.pid"
  cutover_db_stop_pid "$cutover_db_dir/postgres/data/postmaster.pid"
  rm -rf "$cutover_db_dir"
  cutover_db_dir=""
  unset CUTOVER_TEST_MYSQL_DSN CUTOVER_TEST_POSTGRES_DSN
}
