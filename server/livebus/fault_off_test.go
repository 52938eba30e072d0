//go:build !floe_faultinject

package livebus_test

import (
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/server/livebus"
)

// A build without fault injection refuses FLOE_FAULT_BUS at startup, so a
// production process never loses publishes on purpose.
func TestFaultEnvRefusedWithoutTheTag(t *testing.T) {
	t.Setenv(livebus.FaultEnv, "drop=1")
	cfg := config.Default()
	_, err := livebus.NewPublisherFromConfig(&cfg, "n", nil)
	if err == nil || !strings.Contains(err.Error(), "floe_faultinject") {
		t.Fatalf("NewPublisherFromConfig with %s set: %v", livebus.FaultEnv, err)
	}
}
