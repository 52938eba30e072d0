// Package bustest runs an embedded NATS server for tests of the live bus
// (github.com/nats-io/nats-server/v2, in this process, on a loopback
// port).
package bustest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// RunNATS starts a NATS server on a free loopback port, stopped when the
// test ends, and returns its client URL.
func RunNATS(t testing.TB) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats server did not start within 10s")
	}
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns.ClientURL()
}
