# ensure_docker : Docker Engine installed and answering (started by hand where no init runs).
docker_answers() { docker info >/dev/null 2>&1; }

ensure_docker() {
  apt_install docker.io busybox-static iproute2 gcc libc6-dev
  if docker_answers; then return 0; fi
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  wait_for 60 docker_answers || die "dockerd did not answer within 60 s (see /var/log/dockerd.log)"
}
