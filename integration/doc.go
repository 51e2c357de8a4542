// Package integration runs the client through real proxies (squid, nginx,
// haproxy) started as child processes, to check that transport fallback
// lands where a deployment behind each of them needs it to, and how long
// getting there takes.
//
// The proxies come from Debian packages: .ci/install-peers.sh installs
// them. Without them the tests skip, unless REALTIME_REQUIRE_PEERS=1 (as in
// CI), where a missing proxy fails the run instead of hiding it.
package integration
