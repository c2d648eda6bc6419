# bench/nginx.sh (sourced): a private nginx for a bench's baseline. Its configuration, pid,
# logs and temp files live under the directory given; no system nginx is touched; it runs
# in the foreground (its pid in nginx_pid) so the bench's cleanup stops it.
#   nginx_start DIR WORKERS SERVER_BLOCK
nginx_bin() {
  command -v nginx 2>/dev/null || echo /usr/sbin/nginx
}

nginx_start() {
  local dir=$1 workers=$2 server=$3
  [ -x "$(nginx_bin)" ] || { echo "bench: nginx is missing (scripts/install-deps.sh)" >&2; return 1; }
  mkdir -p "$dir/tmp"
  chmod 755 "$dir"
  cat > "$dir/nginx.conf" <<CONF
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
$server
}
CONF
  "$(nginx_bin)" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' 2>> "$dir/error.log" &
  nginx_pid=$!
}
