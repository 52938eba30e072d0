//go:build floe_faultinject

package appctx

import (
	"context"
	"log/slog"
	"os"

	"github.com/floedb/floe/lakehouse/objstore"
)

// injectFaults wraps b in the faults FLOE_FAULT_INJECT asks for (a test
// build: the floe_faultinject tag is set).
func injectFaults(ctx context.Context, b objstore.Bucket, logger *slog.Logger) (objstore.Bucket, error) {
	v, ok := os.LookupEnv(FaultInjectEnv)
	if !ok || v == "" {
		return b, nil
	}
	spec, err := parseFaultSpec(v)
	if err != nil {
		return nil, err
	}
	logger.LogAttrs(ctx, slog.LevelWarn, "object-store fault injection is on (test build)", slog.String("faults", v))
	return faultBucket(b, spec), nil
}
