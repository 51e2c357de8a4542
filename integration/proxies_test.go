//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The configurations follow the recipes in shared/PEERS.md, which were
// checked on this kind of machine; only ports and paths differ.

// startSquid runs squid as a forward proxy. Squid does not forward Upgrade,
// so a WebSocket handshake through it reaches the app as a plain GET.
func startSquid(t *testing.T) *proxy {
	return startProxy(t, proxyConfig{
		binary: "squid",
		owner:  "proxy",
		file:   "squid.conf",
		args:   func(conf string) []string { return []string{"-N", "-f", conf} },
		stop:   syscall.SIGTERM,
		config: func(dir, addr string) string {
			return fmt.Sprintf(`http_port %[2]s
acl SSL_ports port 443
acl CONNECT method CONNECT
http_access deny CONNECT !SSL_ports
http_access allow localhost
http_access deny all
cache deny all
pid_filename %[1]s/squid.pid
access_log stdio:%[1]s/access.log
cache_log %[1]s/cache.log
coredump_dir %[1]s
cache_effective_user proxy
shutdown_lifetime 0 seconds
`, dir, addr)
		},
	})
}

// startNginx runs nginx as a reverse proxy to app; location holds the
// directives of its only location besides proxy_pass.
func startNginx(t *testing.T, app, location string) *proxy {
	return startProxy(t, proxyConfig{
		binary: "nginx",
		owner:  "www-data",
		file:   "nginx.conf",
		args: func(conf string) []string {
			dir := filepath.Dir(conf)
			return []string{"-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", conf, "-g", "daemon off;"}
		},
		// SIGQUIT lets the workers finish what they serve; SIGTERM would
		// drop it mid-response.
		stop: syscall.SIGQUIT,
		config: func(dir, addr string) string {
			userLine := ""
			if os.Geteuid() == 0 {
				userLine = "user www-data;"
			}
			return fmt.Sprintf(`%[4]s
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
	access_log %[1]s/access.log;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	upstream app { server %[3]s; }
	server {
		listen %[2]s;
		location / {
			proxy_pass http://app;
			%[5]s
		}
	}
}
`, dir, addr, app, userLine, location)
		},
	})
}

// startHAProxy runs haproxy in front of app, refusing every WebSocket
// upgrade with 403 as a gateway with a deny rule does.
//
// It keeps haproxy's default of sending with MSG_MORE, which lets the
// kernel hold each small chunk of a streamed response for up to 200 ms:
// every SSE event, and so every acknowledgement, arrives that much late.
// "option http-no-delay" would remove it, but deployments run the default.
func startHAProxy(t *testing.T, app string) *proxy {
	return startProxy(t, proxyConfig{
		binary: "haproxy",
		file:   "haproxy.cfg",
		args:   func(conf string) []string { return []string{"-db", "-f", conf} },
		stop:   syscall.SIGTERM,
		config: func(_, addr string) string {
			// The timeouts outlast the server's 15 s heartbeat, so an idle
			// event stream or long poll is not cut by the proxy.
			return fmt.Sprintf(`global
	maxconn 256
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend rt
	bind %[1]s
	http-request deny deny_status 403 if { hdr(upgrade) -i websocket }
	default_backend app
backend app
	server app %[2]s
`, addr, app)
		},
	})
}
