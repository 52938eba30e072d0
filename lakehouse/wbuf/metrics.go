package wbuf

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics registers gauges of b with reg, read at each scrape:
// the buffered (unflushed) row versions, their bytes, the partitions that
// hold some, and the bound (Options.MaxBytes).
func RegisterMetrics(reg prometheus.Registerer, b *Buffer) error {
	sum := func(f func(PartitionStats) int64) func() float64 {
		return func() float64 {
			var n int64
			for _, p := range b.Partitions() {
				n += f(p)
			}
			return float64(n)
		}
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_wbuf_buffered_rows", Help: "Row versions in the write buffer, not yet flushed."},
			sum(func(p PartitionStats) int64 { return p.Rows })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_wbuf_buffered_bytes", Help: "Bytes of the row versions in the write buffer."},
			sum(func(p PartitionStats) int64 { return p.Bytes })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_wbuf_partitions", Help: "Partitions with buffered row versions."},
			sum(func(PartitionStats) int64 { return 1 })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_wbuf_max_bytes", Help: "Bound of the buffered bytes (buffer.max_bytes)."},
			func() float64 { return float64(b.opts.MaxBytes) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
