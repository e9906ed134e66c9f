# ensure_mariadb : MariaDB installed and running; exports DECNET_TEST_MARIADB_URL.
MARIADB_SOCKET=/run/mysqld/mysqld.sock
mariadb_answers() { mariadb-admin --socket="$MARIADB_SOCKET" ping; }

ensure_mariadb() {
  apt_install mariadb-server
  if ! mariadb_answers >/dev/null 2>&1; then
    log "starting MariaDB"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
    wait_for 60 mariadb_answers || die "MariaDB did not start (socket $MARIADB_SOCKET)"
  fi
  export DECNET_TEST_MARIADB_URL="mysql+pymysql://root@localhost/?unix_socket=$MARIADB_SOCKET"
}
