//go:build !floe_faultinject

package appctx

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/floedb/floe/lakehouse/objstore"
)

// injectFaults refuses FLOE_FAULT_INJECT: this binary was built without
// the floe_faultinject tag, so it never injects faults.
func injectFaults(_ context.Context, b objstore.Bucket, _ *slog.Logger) (objstore.Bucket, error) {
	if v, ok := os.LookupEnv(FaultInjectEnv); ok && v != "" {
		return nil, fmt.Errorf("appctx: %s is set, but this binary was built without fault injection (go build -tags floe_faultinject); unset it", FaultInjectEnv)
	}
	return b, nil
}
