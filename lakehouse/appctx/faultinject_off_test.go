//go:build !floe_faultinject

package appctx

import (
	"context"
	"strings"
	"testing"

	"github.com/floedb/floe/lakehouse/objstore"
)

// Without the floe_faultinject tag (every build but the reliability
// suite's), FLOE_FAULT_INJECT stops the start instead of being ignored.
func TestInjectFaultsRefusedOutsideTestBuilds(t *testing.T) {
	t.Setenv(FaultInjectEnv, "put=0.5")
	_, err := injectFaults(context.Background(), objstore.NewMem(), nil)
	if err == nil || !strings.Contains(err.Error(), "floe_faultinject") {
		t.Fatalf("err = %v", err)
	}
}
